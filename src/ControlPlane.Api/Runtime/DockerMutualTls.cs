using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Docker.DotNet.Handler.Abstractions;

namespace ControlPlane.Api.Runtime;

/// <summary>
/// Mutual TLS to an engine reached over TCP (<c>dockerd --tlsverify</c>), as the docker CLI does it
/// with DOCKER_CERT_PATH: the folder holds ca.pem (the authority the engine's certificate must chain
/// to, and nothing else is trusted), cert.pem and key.pem (the control plane's client certificate).
/// Whoever reaches a plain TCP engine is root on its host, so plain tcp:// is never used.
/// </summary>
public sealed class DockerMutualTls : IAuthProvider
{
    public const string CaFile = "ca.pem";
    public const string CertFile = "cert.pem";
    public const string KeyFile = "key.pem";

    private readonly X509Certificate2 _client;
    private readonly X509Certificate2Collection _trust;

    private DockerMutualTls(X509Certificate2 client, X509Certificate2Collection trust)
    {
        _client = client;
        _trust = trust;
    }

    public bool TlsEnabled => true;

    public static DockerMutualTls Load(string folder)
    {
        var trust = new X509Certificate2Collection();
        trust.ImportFromPemFile(Path.Combine(folder, CaFile));
        var client = X509Certificate2.CreateFromPemFile(Path.Combine(folder, CertFile), Path.Combine(folder, KeyFile));
        return new DockerMutualTls(client, trust);
    }

    /// <summary>True for the endpoints that cross a network (tcp://, https://); unix sockets are guarded by their file mode.</summary>
    public static bool IsNetwork(Uri endpoint) => endpoint.Scheme is "tcp" or "https" or "http";

    public HttpMessageHandler ConfigureHandler(HttpMessageHandler handler)
    {
        if (handler is not SocketsHttpHandler sockets)
            throw new NotSupportedException($"Mutual TLS needs the SocketsHttpHandler transport, not {handler.GetType().Name}.");
        sockets.SslOptions.ClientCertificates = [_client];
        sockets.SslOptions.RemoteCertificateValidationCallback = Verify;
        return sockets;
    }

    /// <summary>The host name must match (no other error is forgiven); the chain must end at ca.pem, not at the system's roots.</summary>
    private bool Verify(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            return false;
        using var own = new X509Chain();
        own.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        own.ChainPolicy.CustomTrustStore.AddRange(_trust);
        own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(certificate);
        return own.Build(presented);
    }
}
