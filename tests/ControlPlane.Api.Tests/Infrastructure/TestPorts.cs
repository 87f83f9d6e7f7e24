using System.Globalization;
using ControlPlane.Api.Reconciliation;

namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>
/// The window every test takes its ports from, the in-memory world's too: CONTROLPLANE_TEST_PORTS,
/// or 20000-22599. Apart from <see cref="ReconcilerTest"/>, whose set-up needs the Docker engines,
/// so that the in-memory tests run without them.
/// </summary>
internal static class TestPorts
{
    public static readonly (int Start, int End) Window = Parse(Environment.GetEnvironmentVariable("CONTROLPLANE_TEST_PORTS") ?? "20000-22599");

    private static (int Start, int End) Parse(string text)
    {
        var parts = text.Split('-');
        var (start, end) = (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
        if (end - start + 1 < 200)
            throw new InvalidOperationException($"CONTROLPLANE_TEST_PORTS {text} holds fewer than the 200 ports one test needs.");
        if (PortAllocator.EphemeralOverlap(start, end) is { } ephemeral)
            throw new InvalidOperationException($"CONTROLPLANE_TEST_PORTS {text}: the cluster bus ports (port + 10000) reach the kernel's ephemeral range {ephemeral}.");
        return (start, end);
    }
}
