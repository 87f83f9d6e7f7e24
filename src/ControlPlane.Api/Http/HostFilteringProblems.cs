namespace ControlPlane.Api.Http;

/// <summary>
/// The framework refuses a Host outside AllowedHosts (DNS rebinding) in the very first middleware,
/// before anything of ours, with a 400 and an HTML page. Without the page, status code pages placed
/// around it (as the outermost startup filter) give that refusal the contract's problem details.
/// </summary>
public sealed class HostFilteringProblems : IStartupFilter
{
    public static void AddTo(IServiceCollection services)
    {
        services.Configure<Microsoft.AspNetCore.HostFiltering.HostFilteringOptions>(o => o.IncludeFailureMessage = false);
        services.Insert(0, ServiceDescriptor.Transient<IStartupFilter, HostFilteringProblems>());
    }

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseStatusCodePages();
        next(app);
    };
}
