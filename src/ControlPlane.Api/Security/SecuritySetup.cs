using ControlPlane.Api.Security.Tls;

namespace ControlPlane.Api.Security;

public static class SecuritySetup
{
    /// <summary>
    /// The control plane's own login on every node and the users' passwords, encrypted with Data
    /// Protection (key ring in the database, or in ControlPlane:KeyRingDir when set), and the
    /// certificate authority and transports of transit encryption.
    /// </summary>
    public static IServiceCollection AddSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddNodeSecrets(configuration);
        services.AddTransitEncryption();
        services.AddSingleton<ClientSecrets>();
        return services;
    }
}
