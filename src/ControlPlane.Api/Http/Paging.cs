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
                after = Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(cursor));
            }
            catch (FormatException)
            {
                problem = Problems.Invalid("cursor", "cursor is not one this service handed out.");
                return false;
            }
        }
        page = new PageRequest(limit ?? MaxLimit, after);
        return true;
    }

    public static string Encode(string key) => WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(key));
}

public static class PagingExtensions
{
    /// <summary>Takes limit + 1 rows so the presence of a next page is known without a count.</summary>
    public static (IReadOnlyList<T> Items, string? NextCursor) Cut<T>(this IReadOnlyList<T> rows, PageRequest page, Func<T, string> key) =>
        rows.Count > page.Limit ? (rows.Take(page.Limit).ToList(), PageRequest.Encode(key(rows[page.Limit - 1]))) : (rows, null);
}
