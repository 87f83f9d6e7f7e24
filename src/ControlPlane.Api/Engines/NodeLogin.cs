using ControlPlane.Api.Security;
using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

/// <summary>Every connection of the control plane to a node logs in as its admin user; without secrets (bare test nodes) as default.</summary>
internal static class NodeLogin
{
    public static async Task<ConfigurationOptions> ApplyAsync(ConfigurationOptions options, INodeSecretSource? secrets, CancellationToken ct)
    {
        if (secrets is null)
            return options;
        options.User = NodeSecrets.AdminUser;
        options.Password = (await secrets.GetAsync(ct)).AdminPassword;
        return options;
    }
}
