using System.Net;

namespace ControlPlane.Api.Runtime;

/// <summary>One endpoint port and the nodes its new connections go to (spread per connection; none: refused).</summary>
public sealed record PortForward(int Port, IReadOnlyList<IPEndPoint> Targets);
