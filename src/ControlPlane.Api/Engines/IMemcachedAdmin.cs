namespace ControlPlane.Api.Engines;

/// <summary>Probes of Memcached nodes; <see cref="MemcachedAdmin"/> is the real one. A node that does not answer gives null (false).</summary>
public interface IMemcachedAdmin
{
    /// <summary>"1.6.18" from "VERSION 1.6.18", or null when the node does not answer.</summary>
    Task<string?> VersionAsync(string host, int port, CancellationToken ct);

    /// <summary>The STAT lines of "stats" (curr_items, bytes, limit_maxbytes, evictions...), or null when the node does not answer.</summary>
    Task<IReadOnlyDictionary<string, string>?> StatsAsync(string host, int port, CancellationToken ct);

    /// <summary>Memcached's refresh_certs: it reads its certificate and key files again (a renewal). False when it did not answer OK.</summary>
    Task<bool> RefreshCertificatesAsync(string host, int port, CancellationToken ct);
}
