import Foundation
import XCTest
@testable import ActorCluster

/// `NodeProcess.procFileText`: a `/proc` file reports size 0, and `String(contentsOfFile:)` read only its first page
/// (4,093 bytes of `/proc/self/maps`), so a bench labelled a dynamically linked binary "static" (libswiftCore was
/// mapped past that page) and a long `/proc/net/tcp` lost its later sockets.
final class ProcFileTests: XCTestCase {
    func test_procFileTextReadsAProcFileToItsEndPastTheFirstPage() throws {
        // This test process maps dozens of files (XCTest, Foundation, the Swift runtime): its maps are well past 4 kB.
        let maps = try XCTUnwrap(NodeProcess.procFileText("/proc/self/maps"))
        XCTAssertGreaterThan(maps.utf8.count, 8_192)
        XCTAssertTrue(maps.hasSuffix("\n"))
        // The stack and the kernel's pages are mapped last, at the highest addresses.
        XCTAssertTrue(maps.contains("[stack]"), "the end of /proc/self/maps is missing")
        XCTAssertTrue(maps.contains("[vdso]"), "the end of /proc/self/maps is missing")
    }

    func test_procFileTextStopsAtItsBoundAndIsNilForAFileThatIsNotThere() {
        XCTAssertEqual(NodeProcess.procFileText("/proc/self/maps", maxBytes: 100)?.utf8.count, 100)
        XCTAssertNil(NodeProcess.procFileText("/proc/self/no-such-file"))
    }

    func test_residentKiBReadsThisProcessVmRSS() throws {
        let kib = try XCTUnwrap(NodeProcess.residentKiB(pid: getpid()))
        XCTAssertGreaterThan(kib, 1_000)
    }
}
