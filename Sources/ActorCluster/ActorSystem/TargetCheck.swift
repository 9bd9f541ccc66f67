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
        /// The parameter and return types, resolved once from the mangled name (nil for generic functions, whose
        /// types depend on each call's substitutions): `ClusterSystem.execute(resolved:…)` runs the call without
        /// asking the runtime to demangle them again.
        var signature: ResolvedSignature?
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
        var verdict = try Self.verdict(target, on: actorType)
        guard genericCount == 0 || verdict.isGeneric else { throw .unexpectedGenericSubstitutions }
        if !verdict.isGeneric { verdict.signature = ResolvedSignature(target, parameterCount: verdict.parameterCount) }
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

/// The parameter and return types of a non-generic distributed function, resolved by the Swift runtime from its
/// mangled name once (the lookups `executeDistributedTarget` makes on every call), plus the name's bytes at a
/// stable address for `swift_distributed_execute_target`. Immutable after `init` (hence `@unchecked Sendable`);
/// the buffers live as long as the object.
final class ResolvedSignature: @unchecked Sendable {
    /// The mangled name, UTF-8, not NUL-terminated.
    let name: UnsafeMutableBufferPointer<UInt8>
    /// One metadata pointer per parameter (capacity at least 1, so the base address is never nil).
    let argumentTypes: UnsafeMutableBufferPointer<Any.Type>
    let parameterCount: Int
    let returnType: Any.Type

    /// nil when the runtime does not resolve every type (the call then goes through `executeDistributedTarget`,
    /// which reports the failure).
    init?(_ target: String, parameterCount expected: Int) {
        let utf8 = Array(target.utf8)
        let name = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, utf8.count))
        _ = name.initialize(from: utf8)
        let count = Int(_swiftFuncParameterCount(name.baseAddress!, UInt(utf8.count)))
        guard count >= 0, count == expected else {
            name.deallocate()
            return nil
        }
        let types = UnsafeMutableBufferPointer<Any.Type>.allocate(capacity: max(1, count))
        let decoded = _swiftFuncParameterTypeInfo(name.baseAddress!, UInt(utf8.count), nil, nil,
                                                  UnsafeMutableRawPointer(types.baseAddress!), count)
        guard decoded == count, let returnType = _swiftFuncReturnTypeInfo(name.baseAddress!, UInt(utf8.count), nil, nil) else {
            name.deallocate()
            types.deallocate()
            return nil
        }
        self.name = UnsafeMutableBufferPointer(rebasing: name[0..<utf8.count])
        self.argumentTypes = types
        self.parameterCount = count
        self.returnType = returnType
    }

    deinit {
        UnsafeMutableRawPointer(name.baseAddress)?.deallocate()
        argumentTypes.deallocate()
    }
}

/// `int32_t swift_func_getParameterCount(const char *name, size_t length)` (libswiftCore, the Distributed SPI):
/// the number of parameters of the function of that mangled name, negative on failure.
@_silgen_name("swift_func_getParameterCount")
private func _swiftFuncParameterCount(_ name: UnsafePointer<UInt8>, _ length: UInt) -> Int32

/// `unsigned swift_func_getParameterTypeInfo(name, length, genericEnv, genericArguments, types, typesLength)`:
/// writes the parameters' metadata into `types`; returns how many (negative on failure).
@_silgen_name("swift_func_getParameterTypeInfo")
private func _swiftFuncParameterTypeInfo(_ name: UnsafePointer<UInt8>, _ length: UInt, _ genericEnv: UnsafeRawPointer?,
                                         _ genericArguments: UnsafeRawPointer?, _ types: UnsafeMutableRawPointer,
                                         _ typesLength: Int) -> Int32

/// `const Metadata *swift_func_getReturnTypeInfo(name, length, genericEnv, genericArguments)`: the return type.
@_silgen_name("swift_func_getReturnTypeInfo")
private func _swiftFuncReturnTypeInfo(_ name: UnsafePointer<UInt8>, _ length: UInt, _ genericEnv: UnsafeRawPointer?,
                                      _ genericArguments: UnsafeRawPointer?) -> Any.Type?

/// `swift_distributed_execute_target` (libswift_Distributed's runtime entry, what `executeDistributedTarget` ends
/// in): finds the function's accessor by name, decodes the arguments with `argumentDecoder` into buffers of
/// `argumentTypes`, runs it on `actor` and writes the result into `resultBuffer`.
@_silgen_name("swift_distributed_execute_target")
func _swiftDistributedExecuteTarget<D: DistributedTargetInvocationDecoder>(
    on actor: AnyObject, _ targetName: UnsafePointer<UInt8>, _ targetNameLength: UInt, argumentDecoder: inout D,
    argumentTypes: UnsafeRawPointer, resultBuffer: UnsafeRawPointer, substitutions: UnsafeRawPointer?,
    witnessTables: UnsafeRawPointer?, numWitnessTables: UInt) async throws

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
