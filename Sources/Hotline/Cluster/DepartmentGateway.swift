import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// One POST of an assignment to a unit's external system.
public struct DeliveryRequest: Sendable, Hashable {
    /// http(s) URL from the catalogue (`DeliveryChannel.http`).
    public var url: String
    /// The whole exchange (connect, send, answer) must end within this many ms.
    public var timeoutMs: Int
    /// Sent as the `Idempotency-Key` header (`WorkOrder.deliveryKey`): the same on every attempt.
    public var idempotencyKey: String
    /// The JSON body (`DeliveryNotice`).
    public var body: Data

    public init(url: String, timeoutMs: Int, idempotencyKey: String, body: Data) {
        self.url = url
        self.timeoutMs = timeoutMs
        self.idempotencyKey = idempotencyKey
        self.body = body
    }
}

/// Why a delivery attempt failed. `description` is what the case records as the failure's reason.
public enum DeliveryFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL does not parse as http(s).
    case invalidURL(String)
    /// No complete answer within the timeout (ms).
    case timedOut(ms: Int)
    /// The system answered with a status other than 2xx.
    case refused(status: Int)
    /// No answer: connection refused or reset, name not resolved, TLS failure (the transport's words).
    case unreachable(String)
    /// The answer was longer than the bound (bytes); the exchange was cut.
    case responseTooLarge(limitBytes: Int)

    public var description: String {
        switch self {
        case .invalidURL(let url): "invalid delivery URL \(url.debugDescription)"
        case .timedOut(let ms): "timed out after \(ms) ms"
        case .refused(let status) where (300..<400).contains(status):
            "refused: HTTP \(status) (a redirect: deliveries never follow one — the body would not go with it, and it may point anywhere)"
        case .refused(let status): "refused: HTTP \(status)"
        case .unreachable(let why): "unreachable: \(why)"
        case .responseTooLarge(let limit): "answer longer than \(limit) bytes"
        }
    }
}

/// Delivers assignments to units' external systems: the I/O a district office leaves to its shell. Injected
/// through `HotlineContext` (tests may pass their own).
public protocol DepartmentGateway: Sendable {
    /// POSTs `request`; returns normally on a 2xx answer.
    /// - Throws: `DeliveryFailure` (never anything else).
    func deliver(_ request: DeliveryRequest) async throws(DeliveryFailure)
}

/// `DepartmentGateway` over Foundation's `URLSession` (libcurl on Linux): `POST url` with
/// `Content-Type: application/json` and `Idempotency-Key`, no cookies, no cache, at most `maxResponseBytes` of
/// answer read (a longer one is cut and fails), the whole exchange bounded by the request's timeout.
/// One shared instance per process (`shared`): a session lives as long as the process.
public final class HTTPDepartmentGateway: NSObject, DepartmentGateway, URLSessionDataDelegate, @unchecked Sendable {
    /// Upper bound of an answer's body, bytes (64 KiB): a department's system answers with an acknowledgement.
    public static let maxResponseBytes = 64 << 10

    public static let shared = HTTPDepartmentGateway()

    private struct Pending {
        var continuation: CheckedContinuation<Void, any Error>
        var timeoutMs: Int
        var status: Int?
        var received = 0
        /// Set when this gateway cut the exchange (and why).
        var cut: DeliveryFailure?
    }

    private let pending = Mutex<[Int: Pending]>([:])
    // `URLSession` keeps its delegate (this object) alive; the shared instance lives for the process anyway.
    private let sessionBox = Mutex<URLSession?>(nil)

    private override init() { super.init() }

    private var session: URLSession {
        sessionBox.withLock { box in
            if let s = box { return s }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpCookieStorage = nil
            configuration.urlCache = nil
            configuration.httpMaximumConnectionsPerHost = 8
            let queue = OperationQueue()
            queue.maxConcurrentOperationCount = 1
            let s = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
            box = s
            return s
        }
    }

    public func deliver(_ request: DeliveryRequest) async throws(DeliveryFailure) {
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil
        else { throw .invalidURL(request.url) }
        let timeoutMs = max(1, request.timeoutMs)
        var http = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData,
                              timeoutInterval: Double(timeoutMs) / 1000)
        http.httpMethod = "POST"
        http.httpBody = request.body
        http.setValue("application/json", forHTTPHeaderField: "Content-Type")
        http.setValue(request.idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
        http.httpShouldHandleCookies = false
        let task = session.dataTask(with: http)
        let id = task.taskIdentifier
        // The whole exchange is bounded: cut it at the timeout whatever libcurl's own timers do.
        let watchdog = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(timeoutMs))
            guard !Task.isCancelled else { return }
            self?.cut(id, task: task, because: .timedOut(ms: timeoutMs))
        }
        defer { watchdog.cancel() }
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                pending.withLock { $0[id] = Pending(continuation: continuation, timeoutMs: timeoutMs) }
                task.resume()
            }
        } catch let failure as DeliveryFailure {
            throw failure
        } catch {
            throw .unreachable("\(error)")
        }
    }

    private func cut(_ id: Int, task: URLSessionTask, because failure: DeliveryFailure) {
        let first = pending.withLock { p -> Bool in
            guard p[id] != nil, p[id]?.cut == nil else { return false }
            p[id]?.cut = failure
            return true
        }
        if first { task.cancel() }
    }

    // MARK: URLSessionDataDelegate

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                           completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode
        pending.withLock { $0[dataTask.taskIdentifier]?.status = status }
        completionHandler(.allow)
    }

    /// A redirect is not followed: the answer (3xx) is the outcome, a failed delivery. Following it would re-send
    /// to wherever the Location says, and URLSession drops the POST body on a 302/303 (and did on a 307 here), so
    /// an empty request's 200 would record a delivery the department never got.
    public func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                           newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        pending.withLock { $0[task.taskIdentifier]?.status = response.statusCode }
        completionHandler(nil)
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = pending.withLock { p -> Bool in
            guard var entry = p[dataTask.taskIdentifier] else { return false }
            entry.received += data.count
            p[dataTask.taskIdentifier] = entry
            return entry.received > Self.maxResponseBytes
        }
        if over { cut(dataTask.taskIdentifier, task: dataTask, because: .responseTooLarge(limitBytes: Self.maxResponseBytes)) }
    }

    public func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        guard let entry = pending.withLock({ $0.removeValue(forKey: task.taskIdentifier) }) else { return }
        if let cut = entry.cut {
            entry.continuation.resume(throwing: cut)
        } else if let error {
            entry.continuation.resume(throwing: Self.failure(error, timeoutMs: entry.timeoutMs))
        } else if let status = entry.status, (200..<300).contains(status) {
            entry.continuation.resume()
        } else {
            entry.continuation.resume(throwing: DeliveryFailure.refused(status: entry.status ?? 0))
        }
    }

    /// The transport's error in the operator's words.
    static func failure(_ error: any Error, timeoutMs: Int) -> DeliveryFailure {
        let ns = error as NSError
        if ns.domain == NSURLErrorDomain, ns.code == NSURLErrorTimedOut { return .timedOut(ms: timeoutMs) }
        let underlying = (ns.userInfo[NSUnderlyingErrorKey] as? NSError)?.userInfo[NSLocalizedDescriptionKey] as? String
        let own = ns.userInfo[NSLocalizedDescriptionKey] as? String
        let text = underlying ?? own ?? "\(ns.domain) \(ns.code)"
        return .unreachable(String(text.prefix(200)))
    }
}

/// How a node's district offices deliver to external systems (`hotline node --delivery-retry-ms`,
/// `--delivery-retry-max-ms`, `--delivery-timeout-ms`).
public struct DeliverySettings: Sendable, Hashable {
    /// Backoff between failed attempts (pure: `WorkOrder.nextDeliveryAttempt`).
    public var retry: DeliveryRetryPolicy
    /// Timeout of one attempt, ms, for units whose channel names none. Default 5,000.
    public var timeoutMs: Int

    public init(retry: DeliveryRetryPolicy = .default, timeoutMs: Int = 5_000) {
        self.retry = retry
        self.timeoutMs = max(1, timeoutMs)
    }
}
