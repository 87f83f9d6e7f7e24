using Microsoft.Net.Http.Headers;

namespace ControlPlane.Api.Http;

/// <summary>ETags are the row's xmin, quoted; If-Match is checked here and again by the UPDATE's concurrency token.</summary>
public static class ETags
{
    public static string Format(uint version) => $"\"{version}\"";

    /// <summary>
    /// Null when there is no If-Match or it is <c>*</c>; otherwise the version it names,
    /// or 0 (never a live xmin) when the value is not one of ours, so it fails as stale.
    /// </summary>
    public static uint? IfMatch(HttpRequest request)
    {
        var header = request.Headers[HeaderNames.IfMatch].ToString().Trim();
        if (header.Length == 0 || header == "*")
            return null;
        var value = header.StartsWith("W/", StringComparison.Ordinal) ? header[2..] : header;
        return uint.TryParse(value.Trim('"'), out var version) ? version : 0;
    }

    public static void Set(HttpResponse response, string etag) => response.Headers.ETag = etag;
}
