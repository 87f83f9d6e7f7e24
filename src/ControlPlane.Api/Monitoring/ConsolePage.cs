namespace ControlPlane.Api.Monitoring;

/// <summary>
/// /console: a read-only page (HTML, a script, a style sheet, embedded in the assembly) that reads
/// the REST API with the key the person gives it. The page itself holds no data, so it needs no key;
/// its Content-Security-Policy lets it talk to this origin only.
/// </summary>
public static class ConsolePage
{
    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly Dictionary<string, (string ContentType, byte[] Content)> Files = new(StringComparer.Ordinal)
    {
        ["index.html"] = ("text/html; charset=utf-8", Read("index.html")),
        ["console.js"] = ("text/javascript; charset=utf-8", Read("console.js")),
        ["console.css"] = ("text/css; charset=utf-8", Read("console.css")),
    };

    public static IEndpointRouteBuilder MapConsole(this IEndpointRouteBuilder app)
    {
        app.MapGet("/console", (HttpResponse response) => Serve(response, "index.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/console/{file}", (string file, HttpResponse response) => Serve(response, file)).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static IResult Serve(HttpResponse response, string file)
    {
        if (!Files.TryGetValue(file, out var found))
            return Results.NotFound();
        response.Headers.ContentSecurityPolicy = Policy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.CacheControl = "no-cache";
        return Results.Bytes(found.Content, found.ContentType);
    }

    private static byte[] Read(string name)
    {
        using var stream = typeof(ConsolePage).Assembly.GetManifestResourceStream("console/" + name)
            ?? throw new InvalidOperationException($"The console's {name} is not embedded in the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
