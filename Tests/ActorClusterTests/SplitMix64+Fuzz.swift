import ActorCluster

extension SplitMix64 {
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
}
