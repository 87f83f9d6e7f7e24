using System.Net;
using System.Net.Sockets;

namespace ControlPlane.Runtime.Tests.Infrastructure;

/// <summary>Loopback ports for nodes: P and its cluster bus P + 10000 both free, never handed out twice in a run.</summary>
public static class FreePorts
{
    private const int BusOffset = 10000;
    private static readonly HashSet<int> Given = [];

    public static int Next()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = BindAndRelease(0);
            // The bus port must fit below 65536 too.
            if (port is null or >= 65536 - BusOffset || BindAndRelease(port.Value + BusOffset) is null)
                continue;
            lock (Given)
            {
                if (Given.Add(port.Value))
                    return port.Value;
            }
        }
        throw new InvalidOperationException("No free loopback port P with P + 10000 free.");
    }

    private static int? BindAndRelease(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        catch (SocketException)
        {
            return null;
        }
        finally
        {
            listener.Stop();
        }
    }
}
