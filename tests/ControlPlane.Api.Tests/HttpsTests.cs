using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests;

/// <summary>The built API as a process of its own, serving HTTPS with a configured certificate (Kestrel's own settings).</summary>
public sealed class HttpsTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task The_API_serves_https_with_the_configured_certificate_and_logs_no_secret()
    {
        var folder = Directory.CreateTempSubdirectory("cp-tls-").FullName;
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(Path.Combine(folder, "cert.pem"), certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(folder, "key.pem"), key.ExportPkcs8PrivateKeyPem());

            var port = PostgresServer.FreePort();
            var api = ControlPlaneProcess.Start(new Dictionary<string, string>
            {
                ["ConnectionStrings__ControlPlane"] = ConnectionString,
                ["ControlPlane__Reconciler__Enabled"] = "false",
                ["ControlPlane__AdminKey"] = TestKeys.Admin,
                ["ControlPlane__SnapshotDir"] = folder,
                ["Kestrel__Endpoints__Https__Url"] = $"https://127.0.0.1:{port}",
                ["Kestrel__Endpoints__Https__Certificate__Path"] = Path.Combine(folder, "cert.pem"),
                ["Kestrel__Endpoints__Https__Certificate__KeyPath"] = Path.Combine(folder, "key.pem"),
                ["Logging__LogLevel__Default"] = "Debug",
            });
            try
            {
                using var handler = new HttpClientHandler
                {
                    // Trust exactly the configured certificate.
                    ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == certificate.Thumbprint,
                };
                using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{port}") };
                var clock = Stopwatch.StartNew();
                while (!await AnswersAsync(client))
                {
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the API never answered over HTTPS:\n{api.Output}");
                    await Task.Delay(200);
                }
                await AssertProblemAsync(await client.GetAsync("/v1/replication-groups"), HttpStatusCode.Unauthorized, "AuthenticationRequired");
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestKeys.Admin);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/replication-groups")).StatusCode);
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", $"cpk_{TestKeys.AdminKeyId}_{new string('e', 64)}");
                await AssertProblemAsync(await client.GetAsync("/v1/replication-groups"), HttpStatusCode.Unauthorized, "InvalidApiKey");

                var password = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString).Password!;
                Assert.DoesNotContain(TestKeys.AdminSecret, api.Output);
                Assert.DoesNotContain(new string('e', 64), api.Output);
                Assert.DoesNotContain(password, api.Output);
            }
            finally
            {
                api.Kill();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<bool> AnswersAsync(HttpClient client)
    {
        try
        {
            return (await client.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
