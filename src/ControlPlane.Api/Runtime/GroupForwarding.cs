using System.Globalization;
using System.Net;

namespace ControlPlane.Api.Runtime;

/// <summary>
/// What the kernel does with a group's endpoints: each port of <see cref="Host"/> forwards new
/// connections to its targets. Only the group's own nodes are ever targets.
/// </summary>
public sealed record GroupForwarding(string GroupId, IPAddress Host, IReadOnlyList<PortForward> Ports)
{
    /// <summary>One text per meaning: ports and targets sorted, so desired and observed compare as strings.</summary>
    public string Canonical() =>
        $"{Host}|" + string.Join("|", Ports.OrderBy(p => p.Port).Select(p =>
            p.Port.ToString(CultureInfo.InvariantCulture) + ">" + string.Join(",", p.Targets.Select(t => t.ToString()).Order(StringComparer.Ordinal))));
}
