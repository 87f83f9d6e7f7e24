using System.Text;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace ControlPlane.Api.Http;

/// <summary>?limit= (1-100, default 100) and an opaque ?cursor= that carries the last key seen.</summary>
public readonly record struct PageRequest(int Limit, string? After)
{
    public const int MaxLimit = 100;

    public static bool TryParse(int? limit, string? cursor, out PageRequest page, out ProblemHttpResult? problem)
    {
        page = default;
        problem = null;
        if (limit is < 1 or > MaxLimit)
        {
            problem = Problems.Invalid("limit", $"limit must be between 1 and {MaxLimit}.");
            return false;
        }
        string? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            try
            {
                after = StrictUtf8.GetString(WebEncoders.Base64UrlDecode(cursor));
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                after = null;
            }
            // Cursors carry ids, which are never empty and never hold control characters (Postgres refuses NUL in text).
            if (string.IsNullOrEmpty(after) || JsonScreen.HasControlCharacter(after))
            {
                problem = Problems.Invalid("cursor", "cursor is not one this service handed out.");
                return false;
            }
        }
        page = new PageRequest(limit ?? MaxLimit, after);
        return true;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Encode(string key) => WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(key));
}

public static class PagingExtensions
{
    /// <summary>Takes limit + 1 rows so the presence of a next page is known without a count.</summary>
    public static (IReadOnlyList<T> Items, string? NextCursor) Cut<T>(this IReadOnlyList<T> rows, PageRequest page, Func<T, string> key) =>
        rows.Count > page.Limit ? (rows.Take(page.Limit).ToList(), PageRequest.Encode(key(rows[page.Limit - 1]))) : (rows, null);
}
