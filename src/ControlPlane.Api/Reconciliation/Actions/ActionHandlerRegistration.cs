namespace ControlPlane.Api.Reconciliation.Actions;

public static class ActionHandlerRegistration
{
    /// <summary>
    /// The executor and every action handler of this assembly, found by type: a new action needs its
    /// handler class and nothing here. A plan with an action no handler carries out fails at once.
    /// </summary>
    public static IServiceCollection AddActionHandlers(this IServiceCollection services)
    {
        foreach (var handler in typeof(IActionHandler).Assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false } && t.IsAssignableTo(typeof(IActionHandler))))
            services.AddSingleton(typeof(IActionHandler), handler);
        services.AddSingleton<NodeRemover>();
        services.AddSingleton<ActionExecutor>();
        return services;
    }
}
