// Catches an OAuth redirect on a loopback port (Zoho's registered
// http://127.0.0.1:{port}/callback, Microsoft's http://localhost:{port}).

import Foundation
import Network

/// Waits for the browser's redirect on `127.0.0.1:port` and returns the full redirect URL,
/// which `SyncClient.completeZohoSignIn` / `completeOutlookSignIn` check and redeem.
public final class LoopbackRedirect: @unchecked Sendable {
    private let listener: NWListener
    private let host: String

    /// Listens on `port` (loopback only). `host` is how the redirect URI names the machine.
    public init(port: UInt16, host: String = "127.0.0.1") throws {
        let params = NWParameters.tcp
        params.requiredInterfaceType = .loopback
        guard let p = NWEndpoint.Port(rawValue: port) else {
            throw CrmSyncError.InvalidInput(reason: "the redirect port \(port) is not valid")
        }
        listener = try NWListener(using: params, on: p)
        self.host = host
    }

    /// The next request that carries a query string, as an absolute URL.
    public func next() async throws -> String {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<String, Error>) in
            var finished = false
            listener.newConnectionHandler = { [host, listener] conn in
                conn.start(queue: .main)
                conn.receive(minimumIncompleteLength: 1, maximumLength: 16 * 1024) { data, _, _, _ in
                    let text = data.flatMap { String(data: $0, encoding: .utf8) } ?? ""
                    let target = text.split(separator: "\r\n").first?
                        .split(separator: " ").dropFirst().first.map(String.init) ?? "/"
                    let body = "<html><body><p>You can close this window and return to CRM Sync.</p></body></html>"
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                    conn.send(content: Data(reply.utf8), completion: .contentProcessed { _ in conn.cancel() })
                    guard target.contains("?"), !finished else { return }
                    finished = true
                    let port = listener.port?.rawValue ?? 0
                    listener.cancel()
                    done.resume(returning: "http://\(host):\(port)\(target)")
                }
            }
            listener.stateUpdateHandler = { state in
                if case let .failed(error) = state, !finished {
                    finished = true
                    done.resume(throwing: CrmSyncError.Host(reason: "the sign-in listener failed: \(error)"))
                }
            }
            listener.start(queue: .main)
        }
    }
}
