using System.Net;

namespace ControlPlane.Api.Runtime;

/// <summary>
/// The kernel endpoints as read from the kernel: each group chain's forwarding, and the map keys
/// that send to each group (a key whose chain is missing is listed under "").
/// </summary>
public sealed record NftTable(IReadOnlyDictionary<string, GroupForwarding> Groups, IReadOnlyDictionary<string, IReadOnlyList<IPEndPoint>> Keys)
{
    public IReadOnlyList<IPEndPoint> KeysOf(string groupId) => Keys.GetValueOrDefault(groupId) ?? [];
}
