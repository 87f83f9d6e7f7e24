using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

/// <summary>Turns the Redis client's failures into <see cref="EngineException"/>s, keeping their messages.</summary>
internal static class EngineErrors
{
    /// <summary>The engine exception for <paramref name="e"/>, or null when it is not an engine's failure (cancellation, a bug).</summary>
    public static EngineException? Translate(Exception e) => e switch
    {
        EngineException => null,
        RedisServerException => new EngineRefusedException(e.Message, e),
        // Connection failures, the client's own timeouts, and a command it could not send.
        RedisException => new EngineUnreachableException(e.Message, e),
        // Our bound on a command (WaitAsync), or a connection closed under the call (the node was forgotten).
        TimeoutException or ObjectDisposedException => new EngineUnreachableException(e.Message, e),
        _ => null,
    };

    /// <summary>Runs <paramref name="call"/> and rethrows an engine's failure as an <see cref="EngineException"/>.</summary>
    public static async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }

    public static async Task GuardAsync(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }
}
