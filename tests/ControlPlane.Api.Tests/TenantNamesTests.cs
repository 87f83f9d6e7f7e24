using ControlPlane.Api.Data;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests;

/// <summary>The one mapping between public ids and stored, tenant-qualified ones.</summary>
public sealed class TenantNamesTests
{
    [Theory]
    [InlineData("default", "orders", "orders")]
    [InlineData("acme", "orders", "acme--orders")]
    [InlineData("acme", "automatic.orders-2030-01-02-03-04", "acme--automatic.orders-2030-01-02-03-04")]
    public void Stored_ids_carry_the_tenant_and_give_the_public_id_back(string tenant, string id, string stored)
    {
        Assert.Equal(stored, TenantNames.Internal(tenant, id));
        Assert.Equal(id, TenantNames.Public(stored));
        Assert.Equal(tenant, TenantNames.TenantOf(stored));
        Assert.Equal(id + "-0001-001", TenantNames.Public(Identifiers.RedisNodeId(stored, "0001", 1)));
    }

    [Fact]
    public void The_longest_stored_names_still_name_kernel_chains()
    {
        var group = TenantNames.Internal(new string('t', TenantNames.MaxTenantLength), new string('g', Limits.MaxGroupIdLength));
        Assert.Equal(Limits.MaxGroupIdLength + TenantNames.MaxPrefixLength, group.Length);
        Assert.EndsWith(group, NftRuleset.ChainName(group));
    }

    [Fact]
    public void Event_texts_read_with_the_tenants_own_names()
    {
        Assert.Equal("Failover from primary node orders-0001-001 to replica node orders-0001-002 completed",
            TenantNames.PublicText("acme", "Failover from primary node acme--orders-0001-001 to replica node acme--orders-0001-002 completed"));
        Assert.Equal("Replication group a-b created", TenantNames.PublicText("default", "Replication group a-b created"));
    }
}
