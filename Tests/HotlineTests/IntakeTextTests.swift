import ActorCluster
import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Intake's text rules (`IntakeText`): identifiers are trimmed and NFC, control characters and empty
/// identifiers are refused naming the field, the repeat key is structured, and every field is bounded in
/// characters and UTF-8 bytes.
final class IntakeTextTests: XCTestCase {
    /// A one-node hotline in this process (no sockets between the actors: every call is local).
    final class LocalHotline {
        let system: ClusterSystem
        let node: HotlineNode

        init() async throws {
            system = try ClusterSystem(settings: .client("intake-test"), logger: Logger(level: .error))
            node = try HotlineNode.start(on: system, roles: .everything)
            let catalogue = try anshanCatalogue()
            _ = try await node.configure(HotlineConfiguration(
                catalogue: catalogue, settings: WorkflowSettings(), virtualStart: nil))
        }

        func submit(channel: String, externalID: String?, description: String = "小区供暖不热",
                    address: String? = nil, name: String? = nil, phone: String? = nil) async throws -> IntakeReceipt {
            try await node.submit(CitizenRequest(channel: channel, externalID: externalID, category: "heating-failure",
                                                 jurisdiction: "210302", description: description, address: address,
                                                 contactName: name, contactPhone: phone))
        }

        deinit { system.shutdown() }
    }

    func request(channel: String = "8890", externalID: String? = "call-1") -> CitizenRequest {
        CitizenRequest(channel: channel, externalID: externalID, category: "heating-failure", jurisdiction: "210302",
                       description: "小区供暖不热")
    }

    func test_anIntakeDeskThatStartsLaterNumbersAboveEveryNumberReservedAndRecordsTheSkippedOnes() async throws {
        // A desk on another node (after the first one's node died) must not hand out 2026-000001 again.
        let hotline = try await LocalHotline()
        _ = try await hotline.submit(channel: "8890", externalID: "n-1")
        let second = try await hotline.submit(channel: "8890", externalID: "n-2")
        let context = HotlineContext(system: hotline.system, catalogue: try anshanCatalogue(), settings: WorkflowSettings(),
                                     clock: SystemClock(), directory: HotlineDirectoryView(try await hotline.node.directory()))
        let newDesk = IntakeDesk(context: context)
        let third = try await newDesk.submit(request(channel: "8890", externalID: "n-3"))
        // The first desk reserved a block of numbers on `intake/numbers`: the new desk continues above the block and
        // records the numbers no office holds as skipped (never handed out, not silently).
        XCTAssertEqual(third.ref.number.serial, IntakeDesk.numberBlock + 1)
        XCTAssertEqual(hotline.system.metrics.value("hotline_intake_numbers_skipped_total"),
                       IntakeDesk.numberBlock - second.ref.number.serial)
        XCTAssertGreaterThan(third.ref.number.serial, second.ref.number.serial)
    }

    func test_casesByStatusAreGaugesOfTheNodeHoldingThem() async throws {
        let hotline = try await LocalHotline()
        let first = try await hotline.submit(channel: "8890", externalID: "gauge-1")
        _ = try await hotline.submit(channel: "8890", externalID: "gauge-2")
        _ = try await hotline.submit(channel: "8890", externalID: "gauge-1")  // a repeat: no new case
        let metrics = hotline.system.metrics
        XCTAssertEqual(metrics.value("hotline_cases_\(first.status.rawValue)"), 2)
        let all = CaseStatus.allCases.map { metrics.value("hotline_cases_\($0.rawValue)") }.reduce(0, +)
        XCTAssertEqual(all, 2, "each case counted once, in its current status only")
    }

    // MARK: - Item 8: keys that cannot collide, one normalisation rule

    func test_pairsThatJoinToTheSameTextAreTwoCases() async throws {
        let hotline = try await LocalHotline()
        // Each pair joins to one string under some separator (or none); they are different requests.
        let pairs: [((String, String), (String, String))] = [
            (("8890", "a-1"), ("8890-a", "1")),
            (("8890", "12"), ("88901", "2")),
            (("web", "x:y"), ("web:x", "y")),
            (("web", "x|y"), ("web|x", "y")),
        ]
        for (first, second) in pairs {
            XCTAssertNotEqual(IntakeKey(channel: first.0, externalID: first.1), IntakeKey(channel: second.0, externalID: second.1))
            let a = try await hotline.submit(channel: first.0, externalID: first.1)
            let b = try await hotline.submit(channel: second.0, externalID: second.1)
            XCTAssertFalse(a.duplicate, "\(first)")
            XCTAssertFalse(b.duplicate, "\(second) is not a repeat of \(first)")
            XCTAssertNotEqual(a.ref.id, b.ref.id)
        }
    }

    func test_trailingSpaceAndNFDFormsAreTheSameChannelAndExternalID() async throws {
        let hotline = try await LocalHotline()
        let first = try await hotline.submit(channel: "8890", externalID: "call-1")
        let spaced = try await hotline.submit(channel: "8890 ", externalID: " call-1\n")
        XCTAssertTrue(spaced.duplicate, "\"8890 \" is channel 8890")
        XCTAssertEqual(spaced.ref.id, first.ref.id)

        let nfc = "Caf\u{E9}-line", nfd = "Cafe\u{301}-line"
        XCTAssertNotEqual(Array(nfc.unicodeScalars), Array(nfd.unicodeScalars))
        let composed = try await hotline.submit(channel: nfc, externalID: "r\u{E9}f-7")
        let decomposed = try await hotline.submit(channel: nfd, externalID: "re\u{301}f-7")
        XCTAssertTrue(decomposed.duplicate, "NFD and NFC are one channel and one id")
        XCTAssertEqual(decomposed.ref.id, composed.ref.id)

        // The case records the normalised form.
        let history = try await hotline.node.findCase(composed.ref.id.rawValue)
        guard case .drafted(_, let intake) = history.events.first?.body else { return XCTFail("no drafted event") }
        XCTAssertEqual(Array(intake.channel.code.unicodeScalars), Array(nfc.unicodeScalars))
        XCTAssertEqual(Array((intake.externalID ?? "").unicodeScalars), Array("r\u{E9}f-7".unicodeScalars))
        XCTAssertEqual(try request(channel: " 8890\t").normalized().channel, "8890")
    }

    func test_controlCharactersAndEmptyIdentifiersAreRejectedNamingTheField() async throws {
        XCTAssertThrowsError(try request(channel: "8890\u{1F}a").normalized()) {
            XCTAssertEqual($0 as? IntakeFieldError, .controlCharacter(.channel, scalar: 0x1F))
        }
        XCTAssertThrowsError(try request(externalID: "a\u{0}b").normalized()) {
            XCTAssertEqual($0 as? IntakeFieldError, .controlCharacter(.externalID, scalar: 0))
        }
        XCTAssertThrowsError(try request(externalID: "a\u{7F}").normalized()) {
            XCTAssertEqual($0 as? IntakeFieldError, .controlCharacter(.externalID, scalar: 0x7F))
        }
        // Invisible characters: two ids that look alike are never two ids.
        for (text, scalar) in [("a\u{200B}b", 0x200B), ("a\u{2028}b", 0x2028), ("\u{FEFF}ab", 0xFEFF), ("ab\u{200E}", 0x200E)] {
            XCTAssertThrowsError(try request(externalID: text).normalized()) {
                XCTAssertEqual($0 as? IntakeFieldError, .invisibleCharacter(.externalID, scalar: UInt32(scalar)))
            }
        }
        XCTAssertThrowsError(try request(channel: " \t ").normalized()) {
            XCTAssertEqual($0 as? IntakeFieldError, .empty(.channel))
        }
        XCTAssertThrowsError(try request(externalID: "  ").normalized()) {
            XCTAssertEqual($0 as? IntakeFieldError, .empty(.externalID))
        }
        // The pair the old "\u{1F}"-joined key confused: both refused at intake, with the field named.
        let hotline = try await LocalHotline()
        for (channel, id) in [("8890\u{1F}a", "b"), ("8890", "a\u{1F}b")] {
            do {
                _ = try await hotline.submit(channel: channel, externalID: id)
                XCTFail("accepted a control character")
            } catch let error as HotlineError {
                XCTAssertTrue("\(error)".contains(channel == "8890" ? "externalID contains the control character U+001F"
                                                   : "channel contains the control character U+001F"), "\(error)")
            }
        }
    }

    // MARK: - Item 13: every field bounded in characters and UTF-8 bytes

    func test_combiningMarkDescriptionIsRejectedByItsByteLimitNamingIt() async throws {
        // 20,000 characters (the character limit), each an "e" with 199 combining acute accents: ~8 MB.
        let heavy = "e" + String(repeating: "\u{301}", count: 199)
        let description = String(repeating: heavy, count: 20_000)
        XCTAssertEqual(description.count, 20_000)
        XCTAssertEqual(description.utf8.count, 7_980_000)
        var r = request()
        r.description = description
        let limit = IntakeLimit(characters: 20_000, bytes: 80_000)
        XCTAssertThrowsError(try r.normalized()) { error in
            XCTAssertEqual(error as? IntakeFieldError, .tooManyBytes(.description, bytes: 7_980_000, limit: limit))
            XCTAssertEqual("\(error)", "description is 7980000 UTF-8 bytes long; the limit is 80000 UTF-8 bytes (and 20000 characters)")
        }
        // One character too many is refused by the character limit, naming it.
        r.description = String(repeating: "热", count: 20_001)
        XCTAssertThrowsError(try r.normalized()) {
            XCTAssertEqual($0 as? IntakeFieldError, .tooManyCharacters(.description, count: 20_001, limit: limit))
        }
    }

    func test_everyFieldIsBoundedInCharactersAndBytes() throws {
        let wide = "\u{20000}"  // one character, 4 UTF-8 bytes (CJK extension B)
        for field in IntakeField.allCases {
            let limit = IntakeText.limit(field)
            XCTAssertGreaterThan(limit.characters, 0, "\(field) has a limit")
            XCTAssertEqual(limit.bytes, 4 * limit.characters, "\(field): every character may take 4 bytes")
            var r = request()
            func set(_ value: String) {
                switch field {
                case .channel: r.channel = value
                case .externalID: r.externalID = value
                case .category: r.category = value
                case .jurisdiction: r.jurisdiction = value
                case .assignedUnit: r.assignedUnit = value
                case .description: r.description = value
                case .address: r.address = value
                case .subject: r.subject = value
                case .contactName: r.contactName = value
                case .contactPhone: r.contactPhone = value
                case .about: r.about = value
                }
            }
            set(String(repeating: wide, count: limit.characters))
            XCTAssertNoThrow(try r.normalized(), "\(field): the largest legal value is accepted")
            set(String(repeating: wide, count: limit.characters + 1))
            XCTAssertThrowsError(try r.normalized()) {
                XCTAssertEqual($0 as? IntakeFieldError, .tooManyBytes(field, bytes: limit.bytes + 4, limit: limit))
            }
            set(String(repeating: "a", count: limit.characters + 1))
            XCTAssertThrowsError(try r.normalized()) {
                XCTAssertEqual($0 as? IntakeFieldError, .tooManyCharacters(field, count: limit.characters + 1, limit: limit))
            }
        }
    }

    func test_largestLegalRequestIsAcceptedAndKeptByteForByte() async throws {
        let hotline = try await LocalHotline()
        let wide = "\u{20000}"
        func longest(_ field: IntakeField) -> String { String(repeating: wide, count: IntakeText.limit(field).characters) }
        let receipt = try await hotline.submit(channel: longest(.channel), externalID: longest(.externalID),
                                               description: longest(.description), address: longest(.address),
                                               name: longest(.contactName), phone: String(repeating: "1", count: 24))
        XCTAssertFalse(receipt.duplicate)
        let history = try await hotline.node.findCase(receipt.ref.id.rawValue)
        guard case .drafted(_, let intake) = history.events.first?.body else { return XCTFail("no drafted event") }
        XCTAssertEqual(Data(intake.description.utf8), Data(longest(.description).utf8))
        XCTAssertEqual(intake.description.utf8.count, 80_000)
        XCTAssertEqual(intake.location?.address, longest(.address))
        XCTAssertEqual(intake.contact.name, longest(.contactName))
        XCTAssertEqual(intake.channel.code, longest(.channel))
        XCTAssertEqual(intake.externalID, longest(.externalID))
    }
}
