import Distributed
import Glibc
import Synchronization

/// Decides whether an inbound call's target (the mangled name of a distributed thunk) belongs to the
/// recipient actor's type, before the runtime is asked to execute it.
///
/// Why: `executeDistributedTarget` looks the accessor up by name only and runs it on whatever instance it
/// is given, so a target of type `B` sent to the path of an `A` reads `A`'s memory as a `B` (a crash at
/// best). A peer on another version, a path that now hosts another type, or a hostile peer all reach this.
///
/// Rule, cheapest test first (a refusal never costs more than a prefix compare and a hash lookup):
/// 1. at most `maxTargetBytes` printable ASCII bytes, starting with `$s` + the recipient type's mangled name
///    (so the function's context is that type, or a type nested in it);
/// 2. the Swift runtime knows an accessible function of exactly that name (`swift_findAccessibleFunction`,
///    the lookup `executeDistributedTarget` itself makes): a made-up or mistyped signature stops here;
/// 3. demangled by the runtime (`swift_demangle`; only compiled-in names reach this, so the output is
///    bounded), it reads `distributed thunk <Context>.<name>…` where `<Context>` is the recipient's type as
///    the same demangler prints it, optionally behind `(extension in <Module>):`, and `<name>` is a plain
///    member name (no further `.`, so a nested type's function does not pass).
/// Generic substitutions are accepted only when the target is generic. Targets of distributed protocol
/// requirements and functions of generic actor types are refused (this runtime resolves concrete,
/// non-generic actor types only).
///
/// Verdicts for accepted pairs are cached (bounded: `cacheLimit` entries); refusals are not, so hostile
/// input cannot grow the cache.
final class TargetCheck: Sendable {
    struct Key: Hashable {
        var type: ObjectIdentifier
        var target: String
    }

    /// What the cache remembers about an accepted pair.
    struct Accepted {
        /// The target's function is generic (it may take generic substitutions).
        var isGeneric: Bool
        /// `Module.Type.function` (as the demangler prints the context; generic arguments removed), the name
        /// `ClusterSystem.restrictToOperators(_:)` takes.
        var function: String
        /// How many arguments the function takes (a call must send exactly that many).
        var parameterCount: Int
    }

    /// Longest target identifier considered (bytes); real ones are well under 512.
    static let maxTargetBytes = 1_024
    /// Accepted (type, target) pairs remembered.
    static let cacheLimit = 4_096

    private let cache = Mutex<[Key: Accepted]>([:])

    /// Why a target was refused: a sentence for the caller and the log.
    enum Refusal: Error, Equatable {
        case notADistributedThunk
        case belongsToAnotherType(String)
        case unexpectedGenericSubstitutions
    }

    /// Checks that `target` is a distributed function of `actorType`.
    ///
    /// - Throws: `Refusal` naming what is wrong.
    /// - Returns: what was accepted (the function's name among it).
    @discardableResult
    func check(_ target: String, on actorType: Any.Type, genericCount: Int) throws(Refusal) -> Accepted {
        let key = Key(type: ObjectIdentifier(actorType), target: target)
        if let hit = cache.withLock({ $0[key] }) {
            guard genericCount == 0 || hit.isGeneric else { throw .unexpectedGenericSubstitutions }
            return hit
        }
        let verdict = try Self.verdict(target, on: actorType)
        guard genericCount == 0 || verdict.isGeneric else { throw .unexpectedGenericSubstitutions }
        cache.withLock { c in
            if c.count < Self.cacheLimit { c[key] = verdict }
        }
        return verdict
    }

    static func verdict(_ target: String, on actorType: Any.Type) throws(Refusal) -> Accepted {
        guard target.utf8.count <= maxTargetBytes, target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .notADistributedThunk
        }
        guard let mangledType = _mangledTypeName(actorType), target.hasPrefix("$s" + mangledType) else {
            throw .belongsToAnotherType("a function of another type")
        }
        let known = target.withCString { _swiftFindAccessibleFunction($0, strlen($0)) != nil }
        guard known, let demangled = demangle(target) else { throw .notADistributedThunk }
        let thunkPrefix = "distributed thunk "
        guard demangled.hasPrefix(thunkPrefix) else { throw .notADistributedThunk }
        var rest = Substring(demangled.dropFirst(thunkPrefix.count))
        if rest.hasPrefix("(extension in "), let colon = rest.firstIndex(of: ":") {
            rest = rest[rest.index(after: colon)...]
        }
        guard let context = contextName(of: actorType) else { throw .belongsToAnotherType("<unnamed>") }
        guard rest.hasPrefix(context + ".") else {
            throw .belongsToAnotherType(String(rest.prefix { $0 != "(" && $0 != "<" }))
        }
        let member = rest.dropFirst(context.count + 1)
        let name = member.prefix { $0 != "(" && $0 != "<" }
        guard !name.isEmpty, !name.contains(".") else {
            throw .belongsToAnotherType(String(rest.prefix { $0 != "(" }))
        }
        let signature = member.dropFirst(name.count)
        guard let parameters = parameterCount(signature) else { throw .notADistributedThunk }
        return Accepted(isGeneric: signature.hasPrefix("<"), function: context + "." + name, parameterCount: parameters)
    }

    /// The number of top-level parameters in a demangled signature `<…>(a: A, b: (B, C)) async throws -> R`
    /// (the first parenthesised list after any generic clause); nil when there is none.
    static func parameterCount(_ signature: Substring) -> Int? {
        var depth = 0, commas = 0, started = false, empty = true
        for ch in signature {
            if !started {
                if ch == "<" { depth += 1; continue }
                if ch == ">" { depth -= 1; continue }
                if ch == "(" && depth == 0 { started = true; depth = 1 }
                continue
            }
            switch ch {
            case "(", "[", "<": depth += 1; empty = false
            case ")", "]", ">":
                depth -= 1
                if depth == 0 { return empty ? 0 : commas + 1 }
                empty = false
            case "," where depth == 1: commas += 1
            case " ": continue
            default: empty = false
            }
        }
        return nil
    }

    /// The actor type's name as the demangler prints a function's context: module-qualified, private
    /// discriminators as the runtime writes them, generic arguments removed.
    static func contextName(of type: Any.Type) -> String? {
        guard let mangled = _mangledTypeName(type), let printed = demangle("$s" + mangled) else { return nil }
        var out = ""
        var depth = 0
        for ch in printed {
            if ch == "<" { depth += 1; continue }
            if ch == ">" { depth = max(0, depth - 1); continue }
            if depth == 0 { out.append(ch) }
        }
        return out
    }

    /// The Swift runtime's demangling of `symbol`, or nil when it is not a Swift symbol.
    static func demangle(_ symbol: String) -> String? {
        symbol.withCString { cstr -> String? in
            guard let out = _swiftDemangle(cstr, strlen(cstr), nil, nil, 0) else { return nil }
            defer { free(out) }
            let text = String(cString: out)
            return text == symbol ? nil : text
        }
    }
}

/// `const AccessibleFunctionRecord *swift_findAccessibleFunction(const char *name, size_t length)` from the
/// Swift runtime (libswiftCore): the record of the compiled-in accessible (distributed) function of exactly
/// that name, or NULL. A hash-table lookup; the record itself is not read here.
@_silgen_name("swift_findAccessibleFunction")
private func _swiftFindAccessibleFunction(_ name: UnsafePointer<CChar>?, _ length: Int) -> UnsafeRawPointer?

/// `char *swift_demangle(const char *mangled, size_t length, char *buffer, size_t *bufferSize, uint32_t flags)`
/// from the Swift runtime (libswiftCore): returns a malloc'ed string, or NULL when `mangled` is not a Swift
/// symbol.
@_silgen_name("swift_demangle")
private func _swiftDemangle(_ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int,
                            _ outputBuffer: UnsafeMutablePointer<CChar>?,
                            _ outputBufferSize: UnsafeMutablePointer<Int>?,
                            _ flags: UInt32) -> UnsafeMutablePointer<CChar>?
