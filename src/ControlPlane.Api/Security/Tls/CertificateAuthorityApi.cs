namespace ControlPlane.Api.Security.Tls;

public static class CertificateAuthorityApi
{
    /// <summary>GET /v1/ca.pem: the authority clients verify TLS nodes and endpoints with (any key may read it).</summary>
    public static IEndpointRouteBuilder MapCertificateAuthority(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/ca.pem", async (CertificateAuthority authority, CancellationToken ct) =>
            {
                await authority.LoadAsync(ct);
                return TypedResults.Text(authority.CertificatePem, "application/x-pem-file");
            })
            .WithTags("Catalogue").WithName("GetCertificateAuthority")
            .WithSummary("The PEM certificate of the authority that signs every node's TLS certificate")
            .Produces<string>(StatusCodes.Status200OK, "application/x-pem-file");
        return app;
    }

    public static IServiceCollection AddTransitEncryption(this IServiceCollection services)
    {
        services.AddSingleton<CertificateAuthority>();
        services.AddSingleton<NodeTransport>();
        services.AddHostedService<NodeTransportRefresh>();
        return services;
    }
}
