using ControlPlane.Api.Reconciliation;
using Xunit;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// A node port, or its cluster bus port (port + 10000), in the kernel's ephemeral range may be the
/// source port of any connection when the node comes to bind it: the reconciler warns at start.
/// </summary>
public sealed class EphemeralPortsTests
{
    private const string Debian = "32768\t60999\n";

    [Theory]
    [InlineData(7000, 7999)]
    [InlineData(20000, 22599)]
    [InlineData(22767, 22767)]
    [InlineData(61000, 61100)] // above it, nodes and bus ports alike
    public void A_range_whose_nodes_and_bus_ports_stay_out_of_it_is_clear(int start, int end) =>
        Assert.Null(PortAllocator.EphemeralOverlap(start, end, Debian));

    [Theory]
    [InlineData(20000, 32599)] // the old test window: bus ports 30000-42599
    [InlineData(22768, 22768)] // bus port 32768
    [InlineData(33000, 33100)] // the nodes themselves
    public void A_range_reaching_it_with_nodes_or_bus_ports_is_named(int start, int end) =>
        Assert.Equal("32768-60999", PortAllocator.EphemeralOverlap(start, end, Debian));

    [Fact]
    public void An_unreadable_kernel_range_says_nothing() =>
        Assert.Null(PortAllocator.EphemeralOverlap(40000, 40010, "garbage"));
}
