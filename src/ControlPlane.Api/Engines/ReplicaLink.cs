namespace ControlPlane.Api.Engines;

/// <summary>One replica as its primary sees it: where it listens, whether the initial sync is done (online), and the offset it acknowledged.</summary>
public sealed record ReplicaLink(string Host, int Port, bool Online, long Offset);
