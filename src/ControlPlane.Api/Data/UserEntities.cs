using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Data;

/// <summary>An RBAC user (ElastiCache's CreateUser): its ACL name, access string and encrypted passwords.</summary>
public sealed class UserEntity
{
    /// <summary>The stored, tenant-qualified id (<see cref="TenantNames"/>).</summary>
    public required string Id { get; set; }
    public string Tenant { get; set; } = TenantNames.Default;
    /// <summary>The name it has on the nodes (ACL user); several users may share one, not within a user group.</summary>
    public required string UserName { get; set; }
    public string Engine { get; set; } = Catalog.Redis;
    public required string AccessString { get; set; }
    public bool NoPasswordRequired { get; set; }
    /// <summary>The 1-2 passwords as a JSON list, encrypted (<see cref="Security.ClientSecrets"/>); null with noPasswordRequired.</summary>
    public string? Passwords { get; set; }
    public int PasswordCount { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public uint Version { get; set; }

    internal static void Configure(ModelBuilder model)
    {
        model.Entity<UserEntity>(e =>
        {
            e.ToTable("users");
            e.HasKey(u => u.Id);
            e.Property(u => u.Id).HasMaxLength(ClientAccessRules.MaxUserIdLength + TenantNames.MaxPrefixLength);
            e.Property(u => u.Tenant).HasMaxLength(TenantNames.MaxTenantLength).HasDefaultValue(TenantNames.Default);
            e.HasIndex(u => new { u.Tenant, u.Id });
            e.Property(u => u.Version).IsRowVersion();
        });
        model.Entity<UserGroupEntity>(e =>
        {
            e.ToTable("user_groups");
            e.HasKey(g => g.Id);
            e.Property(g => g.Id).HasMaxLength(ClientAccessRules.MaxUserGroupIdLength + TenantNames.MaxPrefixLength);
            e.Property(g => g.Tenant).HasMaxLength(TenantNames.MaxTenantLength).HasDefaultValue(TenantNames.Default);
            e.HasIndex(g => new { g.Tenant, g.Id });
            e.Property(g => g.Version).IsRowVersion();
        });
    }
}

/// <summary>A user group (ElastiCache's CreateUserGroup): the users every node of the replication groups using it has.</summary>
public sealed class UserGroupEntity
{
    public required string Id { get; set; }
    public string Tenant { get; set; } = TenantNames.Default;
    public string Engine { get; set; } = Catalog.Redis;
    /// <summary>Stored user ids.</summary>
    public List<string> UserIds { get; set; } = [];
    /// <summary>Raised by every change of the group or of one of its users: the groups using it are in step when they hold this one.</summary>
    public long Revision { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public uint Version { get; set; }

    /// <summary>What <see cref="ReplicationGroupEntity.ClientAccessApplied"/> says once every node of a group holds this revision.</summary>
    public string AppliedMark => $"{Id}@{Revision}";
}
