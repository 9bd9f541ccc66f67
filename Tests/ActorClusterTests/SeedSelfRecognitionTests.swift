@testable import ActorCluster
import Foundation
import Synchronization
import XCTest

/// A seed that names this node under another spelling is this node (breaker, 2026-12-03: three nodes listening on
/// 127.0.0.1 with seeds `localhost:…` never formed a cluster, each dialling itself).
final class SeedSelfRecognitionTests: XCTestCase {
    let own = NodeAddress(host: "127.0.0.1", port: 7491)
    func a(_ host: String, _ port: UInt16) -> NodeAddress { NodeAddress(host: host, port: port) }

    func test_localhostForTheListenIPIsThisNode_otherPortsAreOtherNodes_withoutALookup() {
        let lookups = Mutex(0)
        let r = SeedSelfRecognition.recognise([a("localhost", 7491), a("localhost", 7492), a("localhost", 7493)], own: own,
                                              resolve: { _ in lookups.withLock { $0 += 1 }; return .failed("no") })
        XCTAssertEqual(r.seeds, [own, a("localhost", 7492), a("localhost", 7493)], "the first seed is now recognisably this node")
        XCTAssertEqual(r.aliases, [a("localhost", 7491)])
        XCTAssertEqual(r.unresolved, [])
        XCTAssertEqual(lookups.withLock { $0 }, 0)
        // The reverse spelling: listening as localhost, listed by IP.
        let reverse = SeedSelfRecognition.recognise([a("127.0.0.1", 7481), a("127.0.0.1", 7482)], own: a("localhost", 7481),
                                                    resolve: { _ in .failed("no") })
        XCTAssertEqual(reverse.seeds, [a("localhost", 7481), a("127.0.0.1", 7482)])
    }

    func test_aHostNameIsResolved_thisNodesNameIsReplaced_anotherHostsIsKept_andDuplicatesCollapse() {
        let names: [String: HostResolution] = ["hotline-1.city": .ipv4("10.0.0.11"), "hotline-2.city": .ipv4("10.0.0.12")]
        let own = a("10.0.0.11", 7101)
        let r = SeedSelfRecognition.recognise([a("hotline-1.city", 7101), a("hotline-2.city", 7101), a("10.0.0.11", 7101)], own: own,
                                              resolve: { names[$0] ?? .failed("unknown") })
        XCTAssertEqual(r.seeds, [own, a("hotline-2.city", 7101)], "in the operator's order; the second spelling of itself dropped")
        XCTAssertEqual(r.aliases, [a("hotline-1.city", 7101)])
        // A seed on another port is never looked up, and one that resolves nowhere is reported.
        let lookups = Mutex<[String]>([])
        let r2 = SeedSelfRecognition.recognise([a("elsewhere.city", 7101), a("hotline-1.city", 7200)], own: own,
                                               resolve: { host in lookups.withLock { $0.append(host) }; return names[host] ?? .failed("unknown host") })
        XCTAssertEqual(r2.seeds, [a("elsewhere.city", 7101), a("hotline-1.city", 7200)])
        XCTAssertEqual(lookups.withLock { $0 }, ["elsewhere.city"])
        XCTAssertEqual(r2.unresolved, ["elsewhere.city: unknown host"])
    }

    func test_aLookupThatHangsCountsAsAnotherNodeAfterTheTimeout() {
        let started = ContinuousClock.now
        let r = SeedSelfRecognition.recognise([a("slow.city", 7491)], own: own, resolve: { _ in
            Thread.sleep(forTimeInterval: 2)
            return .ipv4("127.0.0.1")
        }, timeout: .milliseconds(200))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1.5))
        XCTAssertEqual(r.seeds, [a("slow.city", 7491)])
        XCTAssertEqual(r.aliases, [])
        XCTAssertEqual(r.unresolved.count, 1)
        XCTAssertTrue(r.unresolved[0].hasPrefix("slow.city: no answer within"), r.unresolved[0])
    }
}
