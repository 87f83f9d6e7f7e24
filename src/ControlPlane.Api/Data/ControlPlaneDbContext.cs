using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ControlPlane.Api.Data;

public sealed class ControlPlaneDbContext(DbContextOptions<ControlPlaneDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    public const string MigrationsAssembly = "ControlPlane.Migrations";

    /// <summary>Pending and scheduled changes are typed in code and JSON text in their columns, through the one mapper.</summary>
    private static readonly ValueConverter<PendingChanges?, string?> PendingChangesText = new(
        changes => changes == null ? null : PendingChangesJson.Write(changes), text => text == null ? null : PendingChangesJson.Read(text));

    public DbSet<ReplicationGroupEntity> ReplicationGroups => Set<ReplicationGroupEntity>();
    public DbSet<ShardEntity> Shards => Set<ShardEntity>();
    public DbSet<RedisNodeEntity> RedisNodes => Set<RedisNodeEntity>();
    public DbSet<CacheClusterEntity> CacheClusters => Set<CacheClusterEntity>();
    public DbSet<CacheNodeEntity> CacheNodes => Set<CacheNodeEntity>();
    public DbSet<SnapshotEntity> Snapshots => Set<SnapshotEntity>();
    public DbSet<SnapshotFileEntity> SnapshotFiles => Set<SnapshotFileEntity>();
    public DbSet<EventEntity> Events => Set<EventEntity>();
    public DbSet<IdempotencyRecordEntity> IdempotencyRecords => Set<IdempotencyRecordEntity>();
    public DbSet<TestFailoverEntity> TestFailovers => Set<TestFailoverEntity>();
    public DbSet<SnapshotRequestEntity> SnapshotRequests => Set<SnapshotRequestEntity>();
    public DbSet<PortLeaseEntity> PortLeases => Set<PortLeaseEntity>();
    public DbSet<SlotMoveEntity> SlotMoves => Set<SlotMoveEntity>();
    public DbSet<ApiKeyEntity> ApiKeys => Set<ApiKeyEntity>();
    public DbSet<NodeSecretEntity> NodeSecrets => Set<NodeSecretEntity>();
    /// <summary>Data Protection's key ring (it encrypts <see cref="NodeSecrets"/>), unless ControlPlane:KeyRingDir puts it in a folder.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<ParameterGroupEntity> ParameterGroups => Set<ParameterGroupEntity>();
    public DbSet<UserEntity> Users => Set<UserEntity>();
    public DbSet<UserGroupEntity> UserGroups => Set<UserGroupEntity>();

    protected override void ConfigureConventions(ModelConfigurationBuilder builder)
    {
        // Enums are stored by name so the rows read the same as the API.
        builder.Properties<ClusterMode>().HaveConversion<string>();
        builder.Properties<AzMode>().HaveConversion<string>();
        builder.Properties<NodeRole>().HaveConversion<string>();
        builder.Properties<GroupStatus>().HaveConversion<string>();
        builder.Properties<ShardStatus>().HaveConversion<string>();
        builder.Properties<NodeStatus>().HaveConversion<string>();
        builder.Properties<CacheClusterStatus>().HaveConversion<string>();
        builder.Properties<SnapshotStatus>().HaveConversion<string>();
        builder.Properties<SnapshotSource>().HaveConversion<string>();
        builder.Properties<SourceType>().HaveConversion<string>();
        builder.Properties<ApiRole>().HaveConversion<string>();
    }

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<ReplicationGroupEntity>(e =>
        {
            e.ToTable("replication_groups");
            e.HasKey(g => g.Id);
            e.Property(g => g.Id).HasMaxLength(Limits.MaxGroupIdLength + TenantNames.MaxPrefixLength);
            e.Property(g => g.Tenant).HasMaxLength(TenantNames.MaxTenantLength).HasDefaultValue(TenantNames.Default);
            e.HasIndex(g => new { g.Tenant, g.Id });
            e.Property(g => g.Description).HasMaxLength(Limits.MaxDescriptionLength);
            e.Property(g => g.Version).IsRowVersion();
            e.HasMany(g => g.Shards).WithOne().HasForeignKey(s => s.ReplicationGroupId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(g => g.ExpiresAt);
            e.Property(g => g.PendingChanges).HasConversion(PendingChangesText);
            e.Property(g => g.ScheduledChanges).HasConversion(PendingChangesText);
        });
        model.Entity<ShardEntity>(e =>
        {
            e.ToTable("shards");
            e.HasKey(s => new { s.ReplicationGroupId, s.Id });
            e.HasMany(s => s.Nodes).WithOne().HasForeignKey(n => new { n.ReplicationGroupId, n.ShardId }).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<RedisNodeEntity>(e =>
        {
            e.ToTable("redis_nodes");
            e.HasKey(n => n.Id);
        });
        model.Entity<CacheClusterEntity>(e =>
        {
            e.ToTable("cache_clusters");
            e.HasKey(c => c.Id);
            e.Property(c => c.Id).HasMaxLength(Limits.MaxCacheClusterIdLength + TenantNames.MaxPrefixLength);
            e.Property(c => c.Tenant).HasMaxLength(TenantNames.MaxTenantLength).HasDefaultValue(TenantNames.Default);
            e.HasIndex(c => new { c.Tenant, c.Id });
            e.Property(c => c.Version).IsRowVersion();
            e.HasMany(c => c.Nodes).WithOne().HasForeignKey(n => n.CacheClusterId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(c => c.ExpiresAt);
            e.Property(c => c.PendingChanges).HasConversion(PendingChangesText);
            e.Property(c => c.ScheduledChanges).HasConversion(PendingChangesText);
        });
        model.Entity<CacheNodeEntity>(e =>
        {
            e.ToTable("cache_nodes");
            e.HasKey(n => n.Id);
        });
        model.Entity<SnapshotEntity>(e =>
        {
            e.ToTable("snapshots");
            e.HasKey(s => s.Name);
            e.Property(s => s.Version).IsRowVersion();
            e.HasIndex(s => s.ReplicationGroupId);
            e.Property(s => s.Tenant).HasMaxLength(TenantNames.MaxTenantLength).HasDefaultValue(TenantNames.Default);
            e.HasIndex(s => new { s.Tenant, s.Name });
            e.HasMany(s => s.Files).WithOne().HasForeignKey(f => f.SnapshotName).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<SnapshotFileEntity>(e =>
        {
            e.ToTable("snapshot_files");
            e.HasKey(f => new { f.SnapshotName, f.ShardId });
        });
        model.Entity<EventEntity>(e =>
        {
            e.ToTable("events");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.Time, x.Id });
            e.HasIndex(x => new { x.SourceType, x.SourceId, x.Time });
            e.Property(x => x.Tenant).HasMaxLength(TenantNames.MaxTenantLength).HasDefaultValue(TenantNames.Default);
            e.HasIndex(x => new { x.Tenant, x.Id });
        });
        model.Entity<IdempotencyRecordEntity>(e =>
        {
            e.ToTable("idempotency_keys");
            e.HasKey(x => x.Key);
        });
        model.Entity<PortLeaseEntity>(e =>
        {
            e.ToTable("port_leases");
            e.HasKey(x => new { x.Host, x.Port });
            e.HasIndex(x => x.NodeId).IsUnique();
        });
        model.Entity<TestFailoverEntity>(e =>
        {
            e.ToTable("test_failovers");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.ReplicationGroupId, x.RequestedAt });
        });
        model.Entity<SnapshotRequestEntity>(e =>
        {
            e.ToTable("snapshot_requests");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.ReplicationGroupId, x.RequestedAt });
        });
        model.Entity<ApiKeyEntity>(e =>
        {
            e.ToTable("api_keys");
            e.HasKey(x => x.KeyId);
            e.Property(x => x.Tenant).HasMaxLength(TenantNames.MaxTenantLength);
        });
        model.Entity<ParameterGroupEntity>(e =>
        {
            e.ToTable("parameter_groups");
            e.HasKey(p => p.Name);
            e.Property(p => p.Tenant).HasMaxLength(TenantNames.MaxTenantLength).HasDefaultValue(TenantNames.Default);
            e.HasIndex(p => new { p.Tenant, p.Name });
            e.Property(p => p.Values).HasColumnType("jsonb");
            e.Property(p => p.Version).IsRowVersion();
        });
        model.Entity<SlotMoveEntity>(e =>
        {
            e.ToTable("slot_moves");
            e.HasKey(x => new { x.ReplicationGroupId, x.Slot });
            e.HasOne<ReplicationGroupEntity>().WithMany().HasForeignKey(x => x.ReplicationGroupId).OnDelete(DeleteBehavior.Cascade);
        });
        NodeSecretEntity.Configure(model);
        UserEntity.Configure(model);
        model.Entity<DataProtectionKey>().ToTable("data_protection_keys");
    }
}
