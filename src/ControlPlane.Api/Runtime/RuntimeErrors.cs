using System.Net;
using System.Net.Sockets;
using Docker.DotNet;

namespace ControlPlane.Api.Runtime;

/// <summary>Turns Docker.DotNet's failures into <see cref="NodeRuntimeException"/>s, keeping their messages.</summary>
internal static class RuntimeErrors
{
    /// <summary>
    /// The runtime exception for <paramref name="e"/>, or null when it is none of the engine's (the
    /// caller's cancellation, a missing file, a bug). A cancellation the caller did not ask for is the
    /// library's request timeout: the engine did not answer.
    /// </summary>
    public static NodeRuntimeException? Translate(string zone, Exception e, CancellationToken ct) => e switch
    {
        NodeRuntimeException => null,
        DockerContainerNotFoundException or DockerApiException { StatusCode: HttpStatusCode.NotFound } => new RuntimeNotFoundException(e.Message, e),
        DockerApiException { StatusCode: HttpStatusCode.Conflict } => new RuntimeConflictException(e.Message, e),
        DockerApiException => new NodeRuntimeException(e.Message, e),
        HttpRequestException or SocketException => new ZoneUnreachableException(zone, e.Message, e),
        OperationCanceledException when !ct.IsCancellationRequested => new ZoneUnreachableException(zone, e.Message, e),
        _ => null,
    };
}
