using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Runtime.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// A zone's engine reached over TCP: a real dockerd started with --tlsverify on a loopback port
/// answers the control plane's client certificate, and nobody else (no certificate, a certificate
/// of another authority, plain HTTP). A plain tcp:// zone is refused before anything starts.
/// </summary>
public sealed class DockerMutualTlsTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cptls").FullName;
    private Process? _dockerd;
    private int _port;

    public Task InitializeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_tlsverify_engine_answers_the_control_planes_certificate_and_nobody_else()
    {
        using var ca = Authority("controlplane test docker ca");
        using var rogueCa = Authority("somebody else's ca");
        Write(Folder("server"), ca, Leaf(ca, "dockerd", server: true));
        var good = Folder("client");
        Write(good, ca, Leaf(ca, "controlplane", server: false));
        var rogueClient = Folder("rogue-client");
        Write(rogueClient, rogueCa, Leaf(rogueCa, "intruder", server: false));
        // Our certificate, but trusting another authority: the real engine's certificate must be refused.
        var wrongTrust = Folder("wrong-trust");
        Write(wrongTrust, rogueCa, Leaf(ca, "controlplane", server: false));

        _port = FreePorts.Next();
        var endpoint = new Uri($"tcp://127.0.0.1:{_port}");
        StartDockerd(Path.Combine(_dir, "server"));

        using var runtime = new DockerNodeRuntime("az-tls", endpoint, TimeProvider.System, NullLogger<DockerNodeRuntime>.Instance, DockerMutualTls.Load(good));
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                await runtime.PingAsync(CancellationToken.None);
                return true;
            }
            catch (Exception)
            {
                Assert.False(_dockerd!.HasExited, $"dockerd exited: {File.ReadAllText(Path.Combine(_dir, "dockerd.log"))}");
                return false;
            }
        }, ok => ok, TimeSpan.FromSeconds(60), "dockerd answering over mutual TLS");
        Assert.Empty(await runtime.ListAsync(CancellationToken.None));

        using (var rogue = new DockerNodeRuntime("az-tls", endpoint, TimeProvider.System, NullLogger<DockerNodeRuntime>.Instance, DockerMutualTls.Load(rogueClient)))
            await Assert.ThrowsAnyAsync<Exception>(() => rogue.PingAsync(CancellationToken.None));
        using (var misled = new DockerNodeRuntime("az-tls", endpoint, TimeProvider.System, NullLogger<DockerNodeRuntime>.Instance, DockerMutualTls.Load(wrongTrust)))
            await Assert.ThrowsAnyAsync<Exception>(() => misled.PingAsync(CancellationToken.None));

        // No client certificate at all, trusting the engine blindly: the handshake is refused.
        using (var anonymous = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } }))
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => anonymous.GetAsync($"https://127.0.0.1:{_port}/_ping"));
        // Plain HTTP gets no API at all.
        using (var plain = new HttpClient())
        {
            var answer = await plain.GetAsync($"http://127.0.0.1:{_port}/_ping");
            Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        }

        Assert.Throws<ArgumentException>(() => new DockerNodeRuntime("az-tls", endpoint, TimeProvider.System, NullLogger<DockerNodeRuntime>.Instance));
    }

    [Fact]
    public void Plain_tcp_zones_are_refused_at_start_up_with_what_to_set()
    {
        var rules = new DockerEndpointRules();
        var options = new ControlPlaneOptions
        {
            AvailabilityZones =
            [
                new AvailabilityZoneOptions { Name = "az-a", DockerEndpoint = "unix:///var/run/docker.sock" },
                new AvailabilityZoneOptions { Name = "az-b", DockerEndpoint = "tcp://127.0.0.1:2375" },
                new AvailabilityZoneOptions { Name = "az-c", DockerEndpoint = "tcp://127.0.0.1:2376", DockerCertPath = _dir },
            ],
        };
        var result = rules.Validate(null, options);
        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Equal(2, failures.Count);
        Assert.Contains("Zone az-b", failures[0]);
        Assert.Contains("--tlsverify", failures[0]);
        Assert.Contains("ControlPlane:AvailabilityZones:1:DockerCertPath", failures[0]);
        Assert.Contains("Zone az-c", failures[1]);
        Assert.Contains("ca.pem, cert.pem, key.pem", failures[1]);

        options.AvailabilityZones.RemoveRange(1, 2);
        Assert.True(rules.Validate(null, options).Succeeded);
    }

    private void StartDockerd(string certs)
    {
        var run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        var start = new ProcessStartInfo("dockerd",
        [
            "--host", $"tcp://127.0.0.1:{_port}", "--tlsverify",
            "--tlscacert", Path.Combine(certs, DockerMutualTls.CaFile),
            "--tlscert", Path.Combine(certs, DockerMutualTls.CertFile),
            "--tlskey", Path.Combine(certs, DockerMutualTls.KeyFile),
            "--data-root", Path.Combine(_dir, "data"), "--exec-root", run, "--pidfile", Path.Combine(_dir, "dockerd.pid"),
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _dockerd = Process.Start(start)!;
        var log = File.CreateText(Path.Combine(_dir, "dockerd.log"));
        log.AutoFlush = true;
        _dockerd.ErrorDataReceived += (_, e) => { lock (log) log.WriteLine(e.Data); };
        _dockerd.OutputDataReceived += (_, e) => { lock (log) log.WriteLine(e.Data); };
        _dockerd.BeginErrorReadLine();
        _dockerd.BeginOutputReadLine();
    }

    public async Task DisposeAsync()
    {
        if (_dockerd is { HasExited: false })
        {
            // SIGTERM to the one process this test started; it stops its own containerd.
            Process.Start("kill", ["-TERM", _dockerd.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _dockerd.WaitForExitAsync(patience.Token);
            }
            catch (OperationCanceledException)
            {
                _dockerd.Kill();
            }
        }
        _dockerd?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;

    private static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Leaf(X509Certificate2 issuer, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var issued = request.Create(issuer, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(16));
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>DOCKER_CERT_PATH's layout: the trusted authority, then this side's certificate and key.</summary>
    private static void Write(string folder, X509Certificate2 trusted, X509Certificate2 own)
    {
        File.WriteAllText(Path.Combine(folder, DockerMutualTls.CaFile), trusted.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, DockerMutualTls.CertFile), own.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, DockerMutualTls.KeyFile), own.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }
}
