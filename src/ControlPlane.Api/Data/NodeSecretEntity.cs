using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Data;

/// <summary>A secret of the control plane's own (Redis admin, replication), encrypted with Data Protection.</summary>
public sealed class NodeSecretEntity
{
    public required string Name { get; set; }
    public required string Protected { get; set; }

    internal static void Configure(ModelBuilder model) => model.Entity<NodeSecretEntity>(e =>
    {
        e.ToTable("node_secrets");
        e.HasKey(x => x.Name);
    });
}
