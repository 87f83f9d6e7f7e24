using ControlPlane.Api.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;

namespace ControlPlane.Api.Http;

/// <summary>
/// Roles as the contract has them: viewer reads, operator changes its tenant's resources, admin
/// does everything, key management included. Every endpoint needs a key unless it allows anonymous
/// callers (health); the fallback policy decides by HTTP method, so no endpoint checks roles itself.
/// </summary>
public static class AccessPolicies
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Admin = "admin";

    public static IServiceCollection AddApiKeyAuthentication(this IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.AddScoped<Caller>();
        services.AddSingleton<ConfiguredAdminKey>();
        services.AddSingleton<IAuthorizationHandler, RoleForMethodHandler>();
        services.AddAuthentication(ApiKeyClaims.Scheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyClaims.Scheme, null);
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiKeyClaims.Scheme).RequireAuthenticatedUser()
                .AddRequirements(new RoleForMethodRequirement()).Build())
            .AddPolicy(Admin, p => p.AddAuthenticationSchemes(ApiKeyClaims.Scheme).RequireRole(Admin));
        return services;
    }

    public static string RoleName(ApiRole role) => JsonBodies.EnumText(role);

    /// <summary>Reading (GET, HEAD) needs any key; anything else needs operator or admin.</summary>
    public sealed class RoleForMethodRequirement : IAuthorizationRequirement;

    private sealed class RoleForMethodHandler : AuthorizationHandler<RoleForMethodRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RoleForMethodRequirement requirement)
        {
            var method = (context.Resource as HttpContext)?.Request.Method;
            if (HttpMethods.IsGet(method ?? "") || HttpMethods.IsHead(method ?? "")
                || context.User.IsInRole(Operator) || context.User.IsInRole(Admin))
                context.Succeed(requirement);
            return Task.CompletedTask;
        }
    }
}
