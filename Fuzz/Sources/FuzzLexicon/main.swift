import Foundation
import RNNKit

/// Pronunciation dictionaries (Festival's format and plain cmudict): every input either reads into
/// entries with a word and at least one lower-case phone, or throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLexicon(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let entries = try? Lexicon.parse(bytes, path: "fuzz.lexicon") else { return 0 }
    precondition(!entries.isEmpty, "no entries without an error")
    for e in entries {
        precondition(!e.phones.isEmpty, "an entry without phones")
        precondition(e.phones.allSatisfy { !$0.isEmpty && $0 == $0.lowercased() }, "a phone not in lower case")
    }
    let pairs = Lexicon.pairs(entries, stress: false)
    precondition(pairs.targets.joined().allSatisfy { !$0.contains { $0.isNumber } }, "stress left in")
    return 0
}
