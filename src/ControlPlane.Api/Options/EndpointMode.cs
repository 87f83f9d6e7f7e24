namespace ControlPlane.Api.Options;

/// <summary>How the primary and reader endpoints of cluster-mode-disabled groups forward.</summary>
public enum EndpointMode
{
    /// <summary>Nftables when <c>nft</c> and <c>conntrack</c> work on this host (root, netfilter), else the proxy.</summary>
    Auto,

    /// <summary>Destination NAT in the kernel of the control plane's host: nothing on the data path.</summary>
    Nftables,

    /// <summary>One HAProxy container per group: for hosts without netfilter (or without root).</summary>
    Proxy,
}
