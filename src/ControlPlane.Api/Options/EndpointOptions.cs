using System.ComponentModel.DataAnnotations;

namespace ControlPlane.Api.Options;

/// <summary>The "ControlPlane:Endpoints" section: how cluster-mode-disabled groups' endpoints are served.</summary>
public sealed class EndpointOptions
{
    public EndpointMode Mode { get; set; } = EndpointMode.Auto;

    /// <summary>
    /// Nftables mode: the IPv4 address of this host that clients connect to (the endpoints' host).
    /// Empty: the host of the first zone by name, which is this host when the zones are local.
    /// </summary>
    [RegularExpression(@"^$|^\d{1,3}(\.\d{1,3}){3}$")]
    public string? Host { get; set; }
}
