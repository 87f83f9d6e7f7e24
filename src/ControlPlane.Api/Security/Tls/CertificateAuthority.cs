using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Security.Tls;

/// <summary>A node's certificate and key (PEM), and when it is due for renewal (two thirds of its life).</summary>
public sealed record NodeCertificate(string CertificatePem, string KeyPem, DateTimeOffset NotAfter, DateTimeOffset RenewAt)
{
    public override string ToString() => $"NodeCertificate {{ until {NotAfter:u} }}";
}

/// <summary>
/// The control plane's certificate authority (ECDSA P-256, ten years): it signs every node's
/// certificate, and clients verify node endpoints with its certificate (GET /v1/ca.pem). Generated
/// once per database and stored, key and certificate in one row, encrypted with Data Protection
/// (<c>node_secrets</c> "tls-ca", like <see cref="NodeSecretStore"/>), so every control plane on the
/// database signs with the same one.
/// </summary>
public sealed class CertificateAuthority(IServiceScopeFactory scopes, IDataProtectionProvider protection, IOptions<ControlPlaneOptions> options, TimeProvider time)
{
    private const string Purpose = "ControlPlane.CertificateAuthority.v1";
    private const string RowName = "tls-ca";
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile X509Certificate2? _loaded;

    /// <summary>The authority once <see cref="LoadAsync"/> succeeded; node specs need it synchronously.</summary>
    public X509Certificate2 Loaded => _loaded ?? throw new InvalidOperationException("The certificate authority is not loaded yet (CertificateAuthority.LoadAsync).");

    public string CertificatePem => Loaded.ExportCertificatePem() + "\n";

    public async Task<X509Certificate2> LoadAsync(CancellationToken ct)
    {
        if (_loaded is { } loaded)
            return loaded;
        await _gate.WaitAsync(ct);
        try
        {
            if (_loaded is { } again)
                return again;
            var protector = protection.CreateProtector(Purpose);
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
            var pem = await NodeSecretStore.StoredAsync(db, protector, RowName, NewAuthority, ct);
            return _loaded = X509Certificate2.CreateFromPem(pem, pem);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A certificate for a node on <paramref name="host"/>: 127.0.0.1, localhost and the host (an IP or a
    /// DNS name) as subject alternative names; server and client authentication (the cluster bus and
    /// replication links use it as a client certificate too).
    /// </summary>
    public NodeCertificate Issue(string nodeId, string host)
    {
        var authority = Loaded;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={nodeId}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        if (IPAddress.TryParse(host, out var address))
        {
            if (!address.Equals(IPAddress.Loopback))
                names.AddIpAddress(address);
        }
        else if (host != "localhost")
            names.AddDnsName(host);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));

        var now = time.GetUtcNow();
        var lifetime = options.Value.NodeCertificateLifetime;
        // A minute back: clocks of the node and its clients may disagree a little.
        var notBefore = now.AddMinutes(-1);
        var notAfter = now + lifetime;
        if (notAfter > authority.NotAfter)
            notAfter = authority.NotAfter;
        using var certificate = request.Create(authority, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        return new NodeCertificate(certificate.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n", notAfter, now + lifetime * 2 / 3);
    }

    /// <summary>
    /// Whether <paramref name="certificate"/> was signed by this authority: what clients of the
    /// control plane (admin connections, heartbeats, probes) check a node's certificate with. The
    /// host name is not checked: a node is addressed by IP and port, and the chain is what proves it ours.
    /// </summary>
    public bool Verifies(X509Certificate? certificate)
    {
        if (certificate is null)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Loaded);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    private string NewAuthority()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ControlPlane node CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = time.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-1), now.AddYears(10));
        return certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
    }
}
