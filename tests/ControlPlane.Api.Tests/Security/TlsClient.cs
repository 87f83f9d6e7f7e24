using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// A client as a user would write one: it trusts the certificate authority fetched from GET /v1/ca.pem
/// and nothing else (no accept-all callback), for StackExchange.Redis and for a raw SslStream.
/// </summary>
public sealed class TlsClient(X509Certificate2 authority)
{
    public static async Task<TlsClient> FetchAsync(HttpClient api)
    {
        var response = await api.GetAsync("/v1/ca.pem");
        var pem = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET /v1/ca.pem: {(int)response.StatusCode} {pem}");
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", pem);
        return new TlsClient(X509Certificate2.CreateFromPem(pem));
    }

    /// <summary>The last node certificate a handshake of this client saw.</summary>
    public X509Certificate2? LastSeen { get; private set; }

    public bool Verify(X509Certificate? certificate)
    {
        if (certificate is null)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        LastSeen = leaf;
        return chain.Build(leaf);
    }

    public void Configure(ConfigurationOptions options)
    {
        options.Ssl = true;
        options.SslHost = "127.0.0.1";
        options.CertificateValidation += (_, certificate, _, _) => Verify(certificate);
    }

    public ConfigurationOptions Options(EndPoint endpoint, bool allowAdmin = false)
    {
        var options = new ConfigurationOptions { EndPoints = { endpoint }, ConnectTimeout = 3000, AbortOnConnectFail = true, AllowAdmin = allowAdmin };
        Configure(options);
        return options;
    }

    public Task<ConnectionMultiplexer> ConnectAsync(EndPoint endpoint) => ConnectionMultiplexer.ConnectAsync(Options(endpoint));

    /// <summary>One request over TLS on a fresh connection; reads until <paramref name="complete"/> says the reply is whole.</summary>
    public async Task<string> RequestAsync(int port, string request, Func<string, bool> complete)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            RemoteCertificateValidationCallback = (_, certificate, _, _) => Verify(certificate),
        });
        await tls.WriteAsync(Encoding.ASCII.GetBytes(request));
        return await ReadAsync(tls, complete);
    }

    /// <summary>
    /// What a plain-text client gets from the port: its reply, or null when the port refuses the
    /// connection, closes it or answers nothing readable within two seconds (a TLS port waits for a handshake).
    /// </summary>
    public static async Task<string?> PlainTextAsync(int port, string request, Func<string, bool> complete)
    {
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
            var reply = await ReadAsync(stream, complete);
            return reply.Length == 0 || !reply.All(c => c is '\r' or '\n' or (>= ' ' and <= '~')) ? null : reply;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    private static async Task<string> ReadAsync(Stream stream, Func<string, bool> complete)
    {
        var reply = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        do
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
                break;
            reply.Append(Encoding.ASCII.GetString(buffer, 0, read));
        } while (!complete(reply.ToString()));
        return reply.ToString();
    }
}
