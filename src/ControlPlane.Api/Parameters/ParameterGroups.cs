using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Parameters;

/// <summary>A parameter group as a tenant sees it: a stored one of its own or a shared default.* one.</summary>
public sealed record ParameterGroupView(
    string Name, string Family, string Description, bool IsDefault, IReadOnlyDictionary<string, string> UserValues, DateTimeOffset? UpdatedAt)
{
    /// <summary>Every parameter of the family with its value and where the value comes from.</summary>
    public IReadOnlyList<(ParameterDefinition Definition, string Value, bool FromUser)> Parameters() =>
        ParameterCatalog.Definitions(Family)
            .Select(d => UserValues.TryGetValue(d.Name, out var value) ? (d, value, !IsDefault) : (d, d.Default, false))
            .ToList();

    public IReadOnlyDictionary<string, string> Values => ParameterCatalog.Effective(Family, UserValues);
}

/// <summary>Why a parameter-group operation was refused: the HTTP status, the contract code, the field.</summary>
public sealed record ParameterGroupError(int Status, string Code, string Field, string Message);

/// <summary>
/// Parameter groups of a tenant (create, read, modify, reset, delete) and the parameters a replication
/// group or cache cluster runs with. The REST handlers and the ElastiCache query API call it alike;
/// it checks every rule and stores nothing that breaks one. Names are public ones; the tenant is given.
/// </summary>
public sealed class ParameterGroups(ControlPlaneDbContext db, TimeProvider time)
{
    public const int MaxNameLength = 255;
    public const int MaxDescriptionLength = 255;

    public async Task<ParameterGroupView?> FindAsync(string tenant, string name, CancellationToken ct)
    {
        if (ParameterCatalog.DefaultGroupFamily(name) is { } family)
            return Default(name, family);
        var stored = TenantNames.Internal(tenant, name);
        var entity = await db.ParameterGroups.AsNoTracking().FirstOrDefaultAsync(p => p.Name == stored && p.Tenant == tenant, ct);
        return entity is null ? null : View(entity);
    }

    /// <summary>The shared default groups first, then the tenant's own, by name.</summary>
    public async Task<IReadOnlyList<ParameterGroupView>> ListAsync(string tenant, CancellationToken ct)
    {
        var own = await db.ParameterGroups.AsNoTracking().Where(p => p.Tenant == tenant).OrderBy(p => p.Name).ToListAsync(ct);
        return [.. ParameterCatalog.DefaultGroups.Select(n => Default(n, ParameterCatalog.DefaultGroupFamily(n)!)), .. own.Select(View)];
    }

    public async Task<(ParameterGroupView? Group, ParameterGroupError? Error)> CreateAsync(
        string tenant, string name, string family, string? description, CancellationToken ct)
    {
        if (ParameterCatalog.IsDefaultName(name))
            return (null, Invalid("name", $"Names starting with {ParameterCatalog.DefaultPrefix} are reserved for the default parameter groups."));
        if (Identifiers.Check(name, MaxNameLength) is { } nameError)
            return (null, Invalid("name", $"The parameter group name {nameError}"));
        if (!ParameterCatalog.IsFamily(family))
            return (null, Invalid("family", $"Family {family} does not exist; it is one of {string.Join(", ", ParameterCatalog.Families)}."));
        if ((description ?? "").Length > MaxDescriptionLength)
            return (null, Invalid("description", $"The description must be at most {MaxDescriptionLength} characters."));
        var stored = TenantNames.Internal(tenant, name);
        if (await db.ParameterGroups.AnyAsync(p => p.Name == stored, ct))
            return (null, new(StatusCodes.Status409Conflict, ErrorCodes.CacheParameterGroupAlreadyExists, "name", $"Parameter group {name} already exists."));
        var now = time.GetUtcNow();
        var entity = new ParameterGroupEntity { Name = stored, Tenant = tenant, Family = family, Description = description ?? "", CreatedAt = now, UpdatedAt = now };
        db.ParameterGroups.Add(entity);
        db.Record(time, SourceType.ParameterGroup, stored, $"Parameter group {stored} created ({family})");
        await db.SaveChangesAsync(ct);
        return (View(entity), null);
    }

    /// <summary>Sets the values given; every name and value is checked before any is stored.</summary>
    public async Task<(ParameterGroupView? Group, ParameterGroupError? Error)> ModifyAsync(
        string tenant, string name, IReadOnlyDictionary<string, string> values, CancellationToken ct)
    {
        var (entity, error) = await ChangeableAsync(tenant, name, ct);
        if (entity is null)
            return (null, error);
        if (values.Count == 0)
            return (null, Invalid("parameters", "Give at least one parameter to change."));
        foreach (var (parameter, value) in values)
            if (ParameterCatalog.Check(entity.Family, parameter, value) is { } problem)
                return (null, Invalid($"parameters.{parameter}", problem));
        var current = UserValues(entity);
        foreach (var (parameter, value) in values)
            current[parameter] = value;
        return (await SaveAsync(entity, current, $"Parameter group {entity.Name} modified: {string.Join(", ", values.Select(v => $"{v.Key}={v.Value}"))}", ct), null);
    }

    /// <summary>Gives the named parameters (or all) their family's defaults back.</summary>
    public async Task<(ParameterGroupView? Group, ParameterGroupError? Error)> ResetAsync(
        string tenant, string name, IReadOnlyList<string>? parameterNames, bool all, CancellationToken ct)
    {
        var (entity, error) = await ChangeableAsync(tenant, name, ct);
        if (entity is null)
            return (null, error);
        if (all == (parameterNames is { Count: > 0 }))
            return (null, new(StatusCodes.Status400BadRequest, ErrorCodes.InvalidParameterCombination, "parameterNames",
                "Give either parameterNames or \"all\": true."));
        var current = UserValues(entity);
        if (!all)
        {
            foreach (var parameter in parameterNames!)
                if (ParameterCatalog.Find(entity.Family, parameter) is null)
                    return (null, Invalid($"parameterNames", $"{parameter} is not a parameter of the {entity.Family} family."));
            foreach (var parameter in parameterNames!)
                current.Remove(parameter);
        }
        else
            current.Clear();
        return (await SaveAsync(entity, current, $"Parameter group {entity.Name} reset: {(all ? "all parameters" : string.Join(", ", parameterNames!))}", ct), null);
    }

    public async Task<ParameterGroupError?> DeleteAsync(string tenant, string name, CancellationToken ct)
    {
        var (entity, error) = await ChangeableAsync(tenant, name, ct);
        if (entity is null)
            return error;
        var users = await db.ReplicationGroups.Where(g => g.ParameterGroupName == entity.Name).Select(g => g.Id)
            .Concat(db.CacheClusters.Where(c => c.ParameterGroupName == entity.Name).Select(c => c.Id)).ToListAsync(ct);
        if (users.Count > 0)
            return new(StatusCodes.Status400BadRequest, ErrorCodes.InvalidParameterGroupState, "name",
                $"Parameter group {name} is used by {string.Join(", ", users.Select(TenantNames.Public))}.");
        db.ParameterGroups.Remove(entity);
        db.Record(time, SourceType.ParameterGroup, entity.Name, $"Parameter group {entity.Name} deleted");
        await db.SaveChangesAsync(ct);
        return null;
    }

    /// <summary>
    /// The stored name a group or cluster of this engine version and cluster mode takes for the public
    /// name asked for (null: the default of its family and mode). The family must match the engine, and
    /// for Redis and Valkey the group's cluster-enabled must match the cluster mode.
    /// </summary>
    public async Task<(string? Stored, ParameterGroupError? Error)> ResolveAsync(
        string tenant, string? name, string engine, string engineVersion, bool clusterEnabled, CancellationToken ct)
    {
        if (name is null)
            return (null, null);
        var group = await FindAsync(tenant, name, ct);
        if (group is null)
            return (null, new(StatusCodes.Status404NotFound, ErrorCodes.CacheParameterGroupNotFound, "parameterGroupName", $"Parameter group {name} does not exist."));
        var family = Catalog.Family(engine, engineVersion);
        if (group.Family != family)
            return (null, new(StatusCodes.Status400BadRequest, ErrorCodes.InvalidParameterCombination, "parameterGroupName",
                $"Parameter group {name} is of the {group.Family} family; {engine} {engineVersion} needs one of the {family} family."));
        if (ParameterCatalog.IsRedisLike(family) && (group.Values[ParameterCatalog.ClusterEnabled] == "yes") != clusterEnabled)
            return (null, new(StatusCodes.Status400BadRequest, ErrorCodes.InvalidParameterCombination, "parameterGroupName",
                $"Parameter group {name} has cluster-enabled {group.Values[ParameterCatalog.ClusterEnabled]}, which does not match cluster mode "
                + (clusterEnabled ? "enabled" : "disabled") + "."));
        return (group.IsDefault ? group.Name : TenantNames.Internal(tenant, name), null);
    }

    /// <summary>The public name a group or cluster shows: its own, or the default of its family and mode.</summary>
    public static string ShownName(string? stored, string engine, string engineVersion, bool clusterEnabled) =>
        stored is null ? ParameterCatalog.DefaultGroupFor(Catalog.Family(engine, engineVersion), clusterEnabled) : TenantNames.Public(stored);

    /// <summary>Every parameter's value for a group or cluster with this stored parameter group name (see <see cref="ResolveAsync"/>).</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ValuesAsync(
        ControlPlaneDbContext db, string? stored, string engine, string engineVersion, bool clusterEnabled, CancellationToken ct)
    {
        var family = Catalog.Family(engine, engineVersion);
        var name = stored ?? ParameterCatalog.DefaultGroupFor(family, clusterEnabled);
        if (ParameterCatalog.DefaultGroupFamily(name) is { } defaultFamily)
            return ParameterCatalog.Effective(defaultFamily, ParameterCatalog.DefaultGroupOverrides(name));
        var entity = await db.ParameterGroups.AsNoTracking().FirstOrDefaultAsync(p => p.Name == name, ct);
        // A group whose family no longer matches (the engine was upgraded) runs with the new family's defaults.
        return entity is null || entity.Family != family
            ? ParameterCatalog.Effective(family, ParameterCatalog.DefaultGroupOverrides(ParameterCatalog.DefaultGroupFor(family, clusterEnabled)))
            : ParameterCatalog.Effective(family, UserValues(entity));
    }

    private async Task<(ParameterGroupEntity? Entity, ParameterGroupError? Error)> ChangeableAsync(string tenant, string name, CancellationToken ct)
    {
        if (ParameterCatalog.DefaultGroupFamily(name) is not null)
            return (null, new(StatusCodes.Status400BadRequest, ErrorCodes.InvalidParameterGroupState, "name",
                $"{name} is a default parameter group and cannot be changed; create a group of its family and change that."));
        var stored = TenantNames.Internal(tenant, name);
        var entity = await db.ParameterGroups.FirstOrDefaultAsync(p => p.Name == stored && p.Tenant == tenant, ct);
        return entity is null
            ? (null, new(StatusCodes.Status404NotFound, ErrorCodes.CacheParameterGroupNotFound, "name", $"Parameter group {name} does not exist."))
            : (entity, null);
    }

    private async Task<ParameterGroupView> SaveAsync(ParameterGroupEntity entity, Dictionary<string, string> values, string message, CancellationToken ct)
    {
        entity.Values = JsonSerializer.Serialize(values);
        entity.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.ParameterGroup, entity.Name, message);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.SaveChangesAsync(ct);
        // The nodes of every group using it show the change under way until the reconciler has looked at them.
        await db.RedisNodes.Where(n => db.ReplicationGroups.Any(g => g.Id == n.ReplicationGroupId && g.ParameterGroupName == entity.Name))
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ParameterGroupStatus, ParameterStatus.Applying), ct);
        await transaction.CommitAsync(ct);
        return View(entity);
    }

    private static Dictionary<string, string> UserValues(ParameterGroupEntity entity) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(entity.Values) ?? [];

    private static ParameterGroupView View(ParameterGroupEntity entity) =>
        new(TenantNames.Public(entity.Name), entity.Family, entity.Description, false, UserValues(entity), entity.UpdatedAt);

    private static ParameterGroupView Default(string name, string family) =>
        new(name, family, $"Default parameter group for {family}" + (name.EndsWith(ParameterCatalog.ClusterOnSuffix, StringComparison.Ordinal) ? " with cluster mode on" : ""),
            true, ParameterCatalog.DefaultGroupOverrides(name), null);

    private static ParameterGroupError Invalid(string field, string message) =>
        new(StatusCodes.Status400BadRequest, ErrorCodes.InvalidParameterValue, field, message);
}
