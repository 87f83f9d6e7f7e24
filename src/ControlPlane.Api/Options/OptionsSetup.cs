using ControlPlane.Domain;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Options;

public static class OptionsSetup
{
    /// <summary>ControlPlane:* bound and validated at start-up; the catalog and the limits it holds, as services of their own.</summary>
    public static WebApplicationBuilder AddControlPlaneOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ControlPlaneOptions>()
            .Bind(builder.Configuration.GetSection(ControlPlaneOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => o.Zones.Select(z => z.Name).Distinct().Count() == o.Zones.Count, "Availability zone names must be unique.")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Catalog);
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Limits);
        return builder;
    }
}
