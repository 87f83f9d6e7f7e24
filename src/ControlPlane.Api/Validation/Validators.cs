using ControlPlane.Api.Http;
using ControlPlane.Domain;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ControlPlane.Api.Validation;

// The rules live in the Domain (ReplicationGroupRules, CacheClusterRules) so the reconciler shares
// them; these validators surface them through FluentValidation with the contract's codes.

public sealed class ReplicationGroupSpecValidator : AbstractValidator<ReplicationGroupSpec>
{
    public ReplicationGroupSpecValidator(Limits limits, Catalog catalog, TimeProvider time) =>
        RuleFor(spec => spec).Custom((spec, context) =>
            context.AddViolations(ReplicationGroupRules.Validate(spec, limits, catalog, time.GetUtcNow())));
}

public sealed class CacheClusterSpecValidator : AbstractValidator<CacheClusterSpec>
{
    public CacheClusterSpecValidator(Catalog catalog, TimeProvider time) =>
        RuleFor(spec => spec).Custom((spec, context) =>
            context.AddViolations(CacheClusterRules.Validate(spec, catalog, time.GetUtcNow())));
}

public static class ValidationExtensions
{
    public static void AddViolations<T>(this ValidationContext<T> context, IEnumerable<Violation> violations)
    {
        foreach (var violation in violations)
            context.AddFailure(new ValidationFailure(violation.Field, violation.Message) { ErrorCode = violation.Code });
    }

    /// <summary>Null when valid; otherwise the 400 problem with the first failure's code and the field map.</summary>
    public static async Task<ProblemHttpResult?> ProblemAsync<T>(this IValidator<T> validator, T value, CancellationToken ct)
    {
        var result = await validator.ValidateAsync(value, ct);
        return result.IsValid
            ? null
            : Problems.Validation(result.Errors.Select(e => new Violation(e.ErrorCode, e.PropertyName, e.ErrorMessage)).ToList());
    }
}
