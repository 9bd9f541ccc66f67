import ActorCluster
import Foundation
import Hotline

/// The people's steps over HTTP on a node's admin port, under `/hotline/api/`: the same functions as the CLI's
/// `submit`, `case`, `cases`, `unit`, `dispatch` and `callback` commands, run by this node's `HotlineNode` (which finds
/// each case's office anywhere in the cluster). Every request needs the admin bearer token. Answers are the JSON the
/// CLI prints with `--json`; bodies are JSON of the same shapes (dates ISO 8601). Errors are `{"error", "status"}`:
/// 400 a body or query that does not parse or a request intake refuses, 404 an unknown case or endpoint, 405 a wrong
/// method, 409 a step the workflow rules refuse now, 403 not permitted, 422 a routing refusal (e.g. a functional
/// matter pushed down), 503 unavailable (recovering, no quorum: retry).
///
/// | method and path | does | body |
/// |---|---|---|
/// | `POST /hotline/api/submit` | intake: the receipt (200), or `{"queued": ticket}` (202) when kept in the node's durable queue | `SubmitBody` (`CitizenRequest`'s fields; unknown ones refused) |
/// | `GET /hotline/api/case/{number or id}` | the case and its events | |
/// | `GET /hotline/api/cases?status=S&overdue=true` | the supervisor's list | |
/// | `GET /hotline/api/cases/undelivered` | cases waiting for delivery | |
/// | `GET /hotline/api/cases/handover?since=ISO8601` | the shift handover | |
/// | `GET /hotline/api/units/{code}/inbox` | a department's inbox | |
/// | `GET /hotline/api/dispatch/queue?group=G` | cases waiting for dispatch | |
/// | `GET /hotline/api/dispatch/classification?group=G` | the classification queues | |
/// | `GET /hotline/api/callbacks/due` | callbacks due | |
/// | `POST /hotline/api/case/{key}/unit` | a department's step | `{"unit", "action": UnitAction}` e.g. `{"sign":{}}`, `{"reply":{"text":…}}` |
/// | `POST /hotline/api/case/{key}/dispatch` | dispatch (or re-route) | `{"lead"?, "coUnits"?, "dispatcher"}` |
/// | `POST /hotline/api/case/{key}/classify` | settle a classification | `{"category", "jurisdiction", "urgency"?, "kind"?, "note", "dispatcher"}` |
/// | `POST /hotline/api/case/{key}/review` | review a reply | `{"accepted", "note"}` |
/// | `POST /hotline/api/case/{key}/return-decision` | decide a return | `{"approved", "note"}` |
/// | `POST /hotline/api/case/{key}/arbitrate` | arbitrate the lead | `{"lead", "note", "arbiter"}` |
/// | `POST /hotline/api/case/{key}/extension` | decide an extension | `{"approved", "note", "staff"}` |
/// | `POST /hotline/api/case/{key}/callback` | record a callback | `{"outcome": CallbackOutcome}` |
enum PeopleAPI {
    static let prefix = "/hotline/api/"

    /// A request as the submit endpoint takes it: `channel` and `description` are required; `category` and
    /// `jurisdiction` may be left out (intake classifies them), as may every other field. A field of another name
    /// is refused (a misspelt `phone` would otherwise drop the caller's number silently).
    struct SubmitBody: Decodable {
        var channel: String
        var externalID: String?
        var kind: CaseKind?
        var category: String?
        var urgency: Urgency?
        var jurisdiction: String?
        var description: String
        var address: String?
        var contactName: String?
        var contactPhone: String?
        var confidential: Bool?
        var assignedUnit: String?
        var subject: String?
        var about: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case channel, externalID, kind, category, urgency, jurisdiction, description, address, contactName,
                 contactPhone, confidential, assignedUnit, subject, about
        }

        init(from decoder: any Decoder) throws {
            let known = Set(CodingKeys.allCases.map(\.rawValue))
            let any = try decoder.container(keyedBy: AnyKey.self)
            if let unknown = any.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
                throw BadBody(reason: "body: unknown field \"\(unknown.prefix(60))\" (fields: \(known.sorted().joined(separator: ", ")))")
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            channel = try c.decode(String.self, forKey: .channel)
            externalID = try c.decodeIfPresent(String.self, forKey: .externalID)
            kind = try c.decodeIfPresent(CaseKind.self, forKey: .kind)
            category = try c.decodeIfPresent(String.self, forKey: .category)
            urgency = try c.decodeIfPresent(Urgency.self, forKey: .urgency)
            jurisdiction = try c.decodeIfPresent(String.self, forKey: .jurisdiction)
            description = try c.decode(String.self, forKey: .description)
            address = try c.decodeIfPresent(String.self, forKey: .address)
            contactName = try c.decodeIfPresent(String.self, forKey: .contactName)
            contactPhone = try c.decodeIfPresent(String.self, forKey: .contactPhone)
            confidential = try c.decodeIfPresent(Bool.self, forKey: .confidential)
            assignedUnit = try c.decodeIfPresent(String.self, forKey: .assignedUnit)
            subject = try c.decodeIfPresent(String.self, forKey: .subject)
            about = try c.decodeIfPresent(String.self, forKey: .about)
        }

        var citizenRequest: CitizenRequest {
            CitizenRequest(channel: channel, externalID: externalID, kind: kind, category: category ?? "", urgency: urgency,
                           jurisdiction: jurisdiction ?? "", description: description, address: address,
                           contactName: contactName, contactPhone: contactPhone, confidential: confidential,
                           assignedUnit: assignedUnit, subject: subject, about: about)
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct UnitStep: Decodable { var unit: String; var action: UnitAction }
    struct DispatchStep: Decodable { var lead: String?; var coUnits: [String]?; var dispatcher: String }
    struct ClassifyStep: Decodable {
        var category: String; var jurisdiction: String; var urgency: Urgency?; var kind: CaseKind?
        var note: String; var dispatcher: String
    }
    struct Decision: Decodable { var accepted: Bool?; var approved: Bool?; var note: String; var staff: String? }
    struct ArbitrateStep: Decodable { var lead: String; var note: String; var arbiter: String }
    struct CallbackStep: Decodable { var outcome: CallbackOutcome }

    /// The route for `AdminServer.addPrefixRoute(PeopleAPI.prefix, …)`, acting through `hotline`.
    static func route(_ hotline: HotlineNode) -> AdminRouter.RequestRoute {
        { request in await answer(request, hotline: hotline) }
    }

    static func answer(_ request: HTTPRequest, hotline: HotlineNode) async -> HTTPResponse {
        var parts = request.path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count > 1, parts.last == "" { parts.removeLast() }  // one trailing slash names the same resource
        let query = Dictionary((URLComponents(string: request.target)?.queryItems ?? []).map { ($0.name, $0.value ?? "") },
                               uniquingKeysWith: { first, _ in first })
        do {
            switch (request.method, parts.count, parts.first ?? "") {
            case ("POST", 1, "submit"):
                // As `hotline submit --json`: the receipt (200), or the queue's ticket (202) when the node kept the
                // request in its durable intake queue (no quorum, the desk or office unreachable).
                switch try await hotline.submitOrQueue(try decode(SubmitBody.self, request).citizenRequest) {
                case .accepted(let receipt): return .json(200, receipt)
                case .queued(let ticket): return .json(202, ["queued": ticket])
                }
            case ("GET", 2, "case"):
                return .json(200, try await hotline.findCase(caseKey(parts[1])))
            case ("GET", 1, "cases"):
                var status: CaseStatus?
                if let s = query["status"] {
                    guard let parsed = CaseStatus(rawValue: s) else { return .error(400, "unknown status \"\(s.prefix(40))\"") }
                    status = parsed
                }
                let overdue = ["true", "1", "yes"].contains(query["overdue"]?.lowercased() ?? "")
                return .json(200, try await hotline.worklist(.cases(status: status, overdueOnly: overdue)))
            case ("GET", 2, "cases") where parts[1] == "undelivered":
                return .json(200, try await hotline.worklist(.undelivered))
            case ("GET", 2, "cases") where parts[1] == "handover":
                var since: Date?
                if let text = query["since"] {
                    guard let parsed = ISO8601DateFormatter().date(from: text) else {
                        return .error(400, "since: not an ISO 8601 time (e.g. 2026-03-02T08:00:00+08:00)")
                    }
                    since = parsed
                }
                return .json(200, try await hotline.handover(since: since))
            case ("GET", 3, "units") where parts[2] == "inbox":
                return .json(200, try await hotline.worklist(.unitInbox(unit: parts[1].removingPercentEncoding ?? parts[1])))
            case ("GET", 2, "dispatch") where parts[1] == "queue":
                return .json(200, try await hotline.worklist(.dispatchQueue(group: query["group"])))
            case ("GET", 2, "dispatch") where parts[1] == "classification":
                return .json(200, try await hotline.classificationQueues(group: query["group"]))
            case ("GET", 2, "callbacks") where parts[1] == "due":
                return .json(200, try await hotline.worklist(.callbackDue))
            case ("POST", 3, "case"):
                let key = caseKey(parts[1])
                switch parts[2] {
                case "unit":
                    let step = try decode(UnitStep.self, request)
                    return .json(200, try await hotline.unitAct(key, unit: step.unit, action: step.action))
                case "dispatch":
                    let step = try decode(DispatchStep.self, request)
                    guard !step.dispatcher.trimmingCharacters(in: .whitespaces).isEmpty else {
                        return .error(400, "body: \"dispatcher\" must name the dispatcher (it is recorded as the author)")
                    }
                    return .json(200, try await hotline.dispatchCase(key, lead: step.lead, coUnits: step.coUnits, dispatcher: step.dispatcher))
                case "classify":
                    let s = try decode(ClassifyStep.self, request)
                    return .json(200, try await hotline.classify(key, category: s.category, jurisdiction: s.jurisdiction, urgency: s.urgency,
                                                                 kind: s.kind, note: s.note, dispatcher: s.dispatcher))
                case "review":
                    let d = try decode(Decision.self, request)
                    guard let accepted = d.accepted else { return .error(400, "body: \"accepted\" (true or false) is required") }
                    return .json(200, try await hotline.reviewReply(key, accepted: accepted, note: d.note))
                case "return-decision":
                    let d = try decode(Decision.self, request)
                    guard let approved = d.approved else { return .error(400, "body: \"approved\" (true or false) is required") }
                    return .json(200, try await hotline.decideReturn(key, approved: approved, note: d.note))
                case "extension":
                    let d = try decode(Decision.self, request)
                    guard let approved = d.approved, let staff = d.staff else {
                        return .error(400, "body: \"approved\" (true or false) and \"staff\" are required")
                    }
                    return .json(200, try await hotline.decideExtension(key, approved: approved, note: d.note, by: staff))
                case "arbitrate":
                    let s = try decode(ArbitrateStep.self, request)
                    return .json(200, try await hotline.arbitrate(key, lead: s.lead, note: s.note, arbiter: s.arbiter))
                case "callback":
                    return .json(200, try await hotline.callBack(key, outcome: try decode(CallbackStep.self, request).outcome))
                default:
                    return .error(404, "no such step \"\(parts[2].prefix(40))\" (unit, dispatch, classify, review, return-decision, extension, arbitrate, callback)")
                }
            default:
                let known = ["submit", "case", "cases", "units", "dispatch", "callbacks"]
                if known.contains(parts.first ?? "") {
                    var r = HTTPResponse.error(405, "method \(request.method) not allowed on \(request.path.prefix(80)), or no such path under it")
                    r.headers["Allow"] = "GET, POST"
                    return r
                }
                return .error(404, "no such endpoint under \(prefix)")
            }
        } catch let bad as BadBody {
            return .error(400, bad.reason)
        } catch let error as HotlineError {
            return .error(status(of: error), "\(error)")
        } catch let error as RemoteCallError {
            if case .relayed = error { return .error(409, "\(error)") }
            if case .remoteError(_, let message) = error { return .error(409, message) }
            return .error(error.isRetryable ? 503 : 502, "\(error)")
        } catch {
            return .error(500, "\(error)")
        }
    }

    /// The HTTP status of a refusal.
    static func status(of error: HotlineError) -> Int {
        switch error {
        case .invalidRequest: 400
        case .unknownCase: 404
        case .notPermitted: 403
        case .ruleViolation: 409
        case .unavailable, .notConfigured, .placement: 503
        case .routing, .functionalMatterPushedDown, .badRoles, .clock: 422
        }
    }

    struct BadBody: Error { var reason: String }

    /// The body as JSON of `T` (dates ISO 8601). Throws `BadBody` naming what does not parse.
    static func decode<T: Decodable>(_ type: T.Type, _ request: HTTPRequest) throws -> T {
        guard !request.body.isEmpty else { throw BadBody(reason: "a JSON body is required") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(T.self, from: Data(request.body))
        } catch let bad as BadBody {
            throw bad
        } catch DecodingError.keyNotFound(let key, _) {
            throw BadBody(reason: "body: \"\(key.stringValue)\" is required")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw BadBody(reason: "body: \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
        } catch DecodingError.dataCorrupted(let context) {
            throw BadBody(reason: "body: \(context.codingPath.map(\.stringValue).joined(separator: ".")) \(context.debugDescription)")
        } catch {
            throw BadBody(reason: "body: not JSON of the expected shape")
        }
    }

    /// A case id is matched lowercased, as the CLI does.
    static func caseKey(_ text: String) -> String {
        let key = text.removingPercentEncoding ?? text
        return key.lowercased().count == 36 ? key.lowercased() : key
    }
}
