/// How one side of a sequence pair splits into tokens.
public enum TokenUnit: String, Codable, Sendable, CaseIterable {
    /// Unicode scalars, spaces included (RNNKit's characters; see `TextCorpus`).
    case chars
    /// Runs of text between spaces.
    case words

    /// `text` split into tokens.
    public func tokens(_ text: some StringProtocol) -> [String] {
        switch self {
        case .chars: text.unicodeScalars.map { String($0) }
        case .words: String(text).split(whereSeparator: { (c: Character) in c == " " || c == "\t" }).map(String.init)
        }
    }

    /// Tokens joined back into text.
    public func join(_ tokens: [String]) -> String { tokens.joined(separator: self == .chars ? "" : " ") }
}

/// Source and target token sequences for sequence-to-sequence models (N → M: spelling →
/// pronunciation, one line of verse → the next, "535+61" → "596").
///
/// A source that appears on several pairs has several references; `references()` groups them, and
/// the scores compare an output with the closest.
public struct SequencePairs: Equatable, Sendable {
    public var sources: [[String]]
    public var targets: [[String]]

    public init(sources: [[String]], targets: [[String]]) {
        precondition(sources.count == targets.count, "one target per source")
        self.sources = sources
        self.targets = targets
    }

    public var count: Int { sources.count }

    /// The pairs at `indices`, in that order.
    public func subset(_ indices: some Sequence<Int>) -> SequencePairs {
        let chosen = Array(indices)
        return SequencePairs(sources: chosen.map { sources[$0] }, targets: chosen.map { targets[$0] })
    }

    /// Each distinct source once, in order of first appearance, with every target it has.
    public func references() -> (sources: [[String]], references: [[[String]]]) { groupReferences(sources, targets) }

    /// A seeded split by distinct source (a source's pairs all go to the same part): `validation` and
    /// `test` distinct sources, the rest for training, each part in file order.
    public func split(validation: Int, test: Int, seed: UInt64) -> (train: SequencePairs, validation: SequencePairs, test: SequencePairs) {
        var firstIndex: [[String]: Int] = [:]
        var groups: [[Int]] = []
        for (i, source) in sources.enumerated() {
            if let g = firstIndex[source] { groups[g].append(i) } else {
                firstIndex[source] = groups.count
                groups.append([i])
            }
        }
        var generator = SeededGenerator(seed: seed)
        let order = generator.permutation(groups.count)
        let v = min(validation, order.count), t = min(test, order.count - v)
        func part(_ chosen: ArraySlice<Int>) -> SequencePairs { subset(chosen.flatMap { groups[$0] }.sorted()) }
        return (part(order[(v + t)...]), part(order[..<v]), part(order[v..<(v + t)]))
    }
}

/// `source<TAB>target` files, one pair per line in UTF-8 (the format of the Tatoeba/Anki sentence
/// pairs that TensorFlow's translation tutorials read).
public enum PairsFile {
    /// Lines longer than this are refused: a sequence model reads lines of a sentence or a word, and
    /// a line of megabytes is a file in another format.
    public static let maximumLineBytes = 65_536

    /// Reads a pairs file.
    public static func read(path: String, source: TokenUnit, target: TokenUnit) throws(DataError) -> SequencePairs {
        try parse(readFile(path, expansion: 40, hint: "RNNKit holds the pairs and their ids in memory; use a part of the file."),
                  path: path, source: source, target: target)
    }

    /// Parses the bytes of a pairs file. Blank lines are skipped, a final `\r` is dropped (CRLF
    /// files), and columns after the second are ignored (the attribution column of the Anki files).
    /// - Throws: `DataError.malformed` naming the line: invalid UTF-8 (with its byte), no tab, an
    ///   empty side, a line over `maximumLineBytes`; or a file with no pairs.
    public static func parse(_ bytes: [UInt8], path: String, source: TokenUnit, target: TokenUnit) throws(DataError) -> SequencePairs {
        var sources: [[String]] = [], targets: [[String]] = []
        var start = 0, line = 0
        while start < bytes.count {
            line += 1
            var end = start
            while end < bytes.count && bytes[end] != 10 { end += 1 }
            defer { start = end + 1 }
            var stop = end
            if stop > start && bytes[stop - 1] == 13 { stop -= 1 }
            let raw = Array(bytes[start..<stop])
            guard raw.count <= maximumLineBytes else {
                throw .malformed(path: path, problem: "line \(line) is too long", expected: "at most \(maximumLineBytes) bytes a line",
                                 found: "\(raw.count) bytes", hint: "Put one pair of sentences or words on each line.")
            }
            if let bad = TextCorpus.firstInvalidUTF8Offset(raw) {
                throw .malformed(path: path, problem: "invalid UTF-8 on line \(line), at byte \(start + bad) of the file", expected: "UTF-8 text",
                                 found: "bytes " + raw[bad..<min(bad + 4, raw.count)].map { String($0, radix: 16) }.joined(separator: " "),
                                 hint: "Convert the file to UTF-8 first, e.g. `iconv -f GB18030 -t UTF-8 FILE`.")
            }
            let text = String(decoding: raw, as: UTF8.self)
            if text.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let columns = text.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count >= 2 else {
                throw .malformed(path: path, problem: "line \(line) has no tab", expected: "source<TAB>target",
                                 found: "'\(text.prefix(40))\(text.count > 40 ? "…" : "")'", hint: "Separate the source and the target with one tab.")
            }
            let s = source.tokens(columns[0].trimmingSpaces), t = target.tokens(columns[1].trimmingSpaces)
            for (side, tokens) in [("source", s), ("target", t)] where tokens.isEmpty {
                throw .malformed(path: path, problem: "line \(line) has an empty \(side)", expected: "text on both sides of the tab",
                                 found: "'\(text.prefix(40))'", hint: "Remove the line or fill in its \(side).")
            }
            sources.append(s)
            targets.append(t)
        }
        guard !sources.isEmpty else {
            throw .malformed(path: path, problem: "no pairs", expected: "lines of source<TAB>target", found: "\(line) blank line(s)",
                             hint: "Point --pairs at a file of tab-separated pairs.")
        }
        return SequencePairs(sources: sources, targets: targets)
    }
}

/// Each distinct source once, in order of first appearance, with its distinct targets in order.
func groupReferences<Token: Hashable>(_ sources: [[Token]], _ targets: [[Token]]) -> (sources: [[Token]], references: [[[Token]]]) {
    var index: [[Token]: Int] = [:]
    var distinct: [[Token]] = [], references: [[[Token]]] = []
    for (source, target) in zip(sources, targets) {
        if let k = index[source] {
            if !references[k].contains(target) { references[k].append(target) }
        } else {
            index[source] = distinct.count
            distinct.append(source)
            references.append([target])
        }
    }
    return (distinct, references)
}

extension StringProtocol {
    /// Without leading and trailing spaces.
    var trimmingSpaces: Substring {
        let s = Substring(self)
        guard let first = s.firstIndex(where: { $0 != " " }) else { return s[s.endIndex...] }
        let last = s.lastIndex(where: { $0 != " " })!
        return s[first...last]
    }
}

/// Pronunciation dictionaries: Festival's lexicon format (`("word" pos (((p h) 1) ((p h) 0)))`,
/// as in Debian's festlex-cmu `cmudict-0.4.out`) and the plain CMU dictionary format
/// (`WORD  W ER1 D`, alternates as `WORD(2)`, `;;;` comments).
public enum Lexicon {
    /// One pronunciation: the word (lower case) and its phones, lower case, vowels with their stress
    /// digit (`ey1`, `ax0`).
    public struct Entry: Equatable, Sendable {
        public var word: String
        public var phones: [String]
        public init(word: String, phones: [String]) {
            self.word = word
            self.phones = phones
        }
    }

    /// Festival's vowels (CMU's, and `ax` for unstressed `ah`, `axr`); a syllable's stress goes on its vowel.
    static let vowels: Set<String> = ["aa", "ae", "ah", "ao", "aw", "ax", "axr", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"]

    /// The default location of Debian's festlex-cmu dictionary.
    public static let festivalCMU = "/usr/share/festival/dicts/cmu/cmudict-0.4.out"

    public static func read(path: String) throws(DataError) -> [Entry] {
        try parse(readFile(path, expansion: 30, hint: "RNNKit holds the dictionary in memory; use a part of it."), path: path)
    }

    /// Parses either format (Festival's when the first entry starts with `(`).
    /// - Throws: `DataError.malformed` naming the line and what is wrong with it.
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> [Entry] {
        let text = try TextCorpus.decode(bytes, path: path)
        var entries: [Entry] = []
        var festival: Bool?
        // "\r\n" is one Character in Swift: split on either.
        for (k, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty || trimmed.hasPrefix(";") || (festival == nil && trimmed == "MNCL") { continue }
            if festival == nil { festival = trimmed.hasPrefix("(") }
            entries.append(try festival! ? festivalEntry(trimmed, line: k + 1, path: path) : plainEntry(trimmed, line: k + 1, path: path))
        }
        guard !entries.isEmpty else {
            throw .malformed(path: path, problem: "no entries", expected: "a pronunciation dictionary",
                             found: "no word with phones", hint: "Give Festival's cmudict-0.4.out or a cmudict file.")
        }
        return entries
    }

    /// Pairs of spelling (characters) → phones, with or without the stress digits.
    public static func pairs(_ entries: [Entry], stress: Bool) -> SequencePairs {
        SequencePairs(sources: entries.map { TokenUnit.chars.tokens($0.word) },
                      targets: entries.map { e in stress ? e.phones : e.phones.map { $0.filter { !$0.isNumber } } })
    }

    private static func bad(_ path: String, _ line: Int, _ problem: String, _ expected: String, _ found: some StringProtocol) -> DataError {
        .malformed(path: path, problem: "line \(line): \(problem)", expected: expected,
                   found: "'\(found.prefix(60))\(found.count > 60 ? "…" : "")'", hint: "Fix or remove the line.")
    }

    /// `("word" pos (((p h) 1) ((p h) 0)))`.
    private static func festivalEntry(_ line: Substring, line number: Int, path: String) throws(DataError) -> Entry {
        let expected = "(\"word\" pos (((phones) stress) ...))"
        // Tokens: ( ) "string" atom.
        var tokens: [String] = []
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if c == " " || c == "\t" { i = line.index(after: i); continue }
            if c == "(" || c == ")" { tokens.append(String(c)); i = line.index(after: i); continue }
            if c == "\"" {
                guard let close = line[line.index(after: i)...].firstIndex(of: "\"") else {
                    throw bad(path, number, "unterminated string", expected, line)
                }
                tokens.append("\"" + line[line.index(after: i)..<close])
                i = line.index(after: close)
                continue
            }
            let end = line[i...].firstIndex(where: { $0 == " " || $0 == "(" || $0 == ")" || $0 == "\"" || $0 == "\t" }) ?? line.endIndex
            tokens.append(String(line[i..<end]))
            i = end
        }
        var k = 0
        func next() -> String? { k < tokens.count ? tokens[k] : nil }
        func take(_ t: String) throws(DataError) {
            guard next() == t else { throw bad(path, number, "expected '\(t)' at token \(k + 1)", expected, line) }
            k += 1
        }
        try take("(")
        guard let word = next(), word.hasPrefix("\""), word.count > 1 else { throw bad(path, number, "no quoted word", expected, line) }
        k += 1
        guard let pos = next(), pos != "(", pos != ")" else { throw bad(path, number, "no part of speech", expected, line) }
        k += 1
        try take("(")
        var phones: [String] = []
        while next() == "(" {
            k += 1
            try take("(")
            var syllable: [String] = []
            while let t = next(), t != ")" {
                guard t != "(", !t.hasPrefix("\""), t.allSatisfy({ $0.isLetter }) else { throw bad(path, number, "'\(t)' is not a phone", expected, line) }
                syllable.append(t.lowercased())
                k += 1
            }
            try take(")")
            guard let s = next(), let stress = Int(s), (0...2).contains(stress) else {
                throw bad(path, number, "a syllable's stress is not 0, 1 or 2", expected, line)
            }
            k += 1
            try take(")")
            guard !syllable.isEmpty else { throw bad(path, number, "an empty syllable", expected, line) }
            phones += syllable.map { vowels.contains($0) ? $0 + String(stress) : $0 }
        }
        try take(")")
        try take(")")
        guard k == tokens.count else { throw bad(path, number, "text after the entry", expected, line) }
        guard !phones.isEmpty else { throw bad(path, number, "no phones", expected, line) }
        return Entry(word: String(word.dropFirst()).lowercased(), phones: phones)
    }

    /// `WORD  W ER1 D` or `word(2) w er1 d`.
    private static func plainEntry(_ line: Substring, line number: Int, path: String) throws(DataError) -> Entry {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2 else { throw bad(path, number, "a word without phones", "WORD  PH1 PH2 ...", line) }
        var word = fields[0]
        if word.hasSuffix(")"), let open = word.lastIndex(of: "("), open > word.startIndex,
           word[word.index(after: open)..<word.index(before: word.endIndex)].allSatisfy(\.isNumber) {
            word = word[..<open]  // an alternate pronunciation, word(2)
        }
        var phones: [String] = []
        for field in fields.dropFirst() {
            if field.hasPrefix("#") { break }  // cmudict.dict's comments after the phones
            guard let first = field.first, first.isLetter, field.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw bad(path, number, "'\(field)' is not a phone", "phones such as W ER1 D", line)
            }
            phones.append(field.lowercased())
        }
        guard !phones.isEmpty else { throw bad(path, number, "a word without phones", "WORD  PH1 PH2 ...", line) }
        return Entry(word: word.lowercased(), phones: phones)
    }
}

/// Couplets from Debian's fortunes-zh Tang poems (`/usr/share/games/fortunes/tang300`): each body
/// line of a poem is a couplet, `first，second。`; the pair is first → second, without punctuation.
public enum Couplets {
    /// The default location (Debian's fortunes-zh).
    public static let tangPoems = "/usr/share/games/fortunes/tang300"

    public static func read(path: String) throws(DataError) -> SequencePairs {
        let text = try TextCorpus.read(path: path, stripANSI: true)
        let pairs = parse(text)
        guard pairs.count > 0 else {
            throw .malformed(path: path, problem: "no couplets", expected: "lines of the form first，second。", found: "none",
                             hint: "Point at a fortune file of classical poems, such as \(tangPoems).")
        }
        return pairs
    }

    /// The couplets of a fortune file's text (poems separated by `%` lines; lines with one full-width
    /// comma that end in 。？！ or ；). Title and author lines have no such comma and are skipped.
    public static func parse(_ text: String) -> SequencePairs {
        var sources: [[String]] = [], targets: [[String]] = []
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = raw.trimmingSpaces
            guard let last = line.last, "。？！；".contains(last) else { continue }
            let halves = line.dropLast().split(separator: "，", omittingEmptySubsequences: false)
            guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty else { continue }
            sources.append(TokenUnit.chars.tokens(halves[0]))
            targets.append(TokenUnit.chars.tokens(halves[1]))
        }
        return SequencePairs(sources: sources, targets: targets)
    }
}

/// Keras's `addition_rnn` task, generated and seeded: "535+61" → "596". Each operand has 1 to
/// `digits` digits (a uniform count, then uniform digits, leading zeros dropped, as Keras draws
/// them), and no pair of operands appears twice in either order.
public enum AdditionProblems {
    public static func generate(count: Int, digits: Int = 3, seed: UInt64) -> SequencePairs {
        var generator = SeededGenerator(seed: seed)
        var seen = Set<[Int]>()
        var sources: [[String]] = [], targets: [[String]] = []
        let possible = (0..<digits).reduce(1) { value, _ in value * 10 }
        let limit = min(count, possible * (possible + 1) / 2)
        func operand() -> Int {
            let n = 1 + Int(generator.next() % UInt64(digits))
            return (0..<n).reduce(0) { value, _ in value * 10 + Int(generator.next() % 10) }
        }
        while sources.count < limit {
            let a = operand(), b = operand()
            guard seen.insert([min(a, b), max(a, b)]).inserted else { continue }
            sources.append(TokenUnit.chars.tokens("\(a)+\(b)"))
            targets.append(TokenUnit.chars.tokens("\(a + b)"))
        }
        return SequencePairs(sources: sources, targets: targets)
    }
}

/// The tokens of one side of a sequence-to-sequence model, with the three it needs besides the
/// data's: padding (id 0), the start of a target (`<s>`, 1) and its end (`</s>`, 2).
///
/// (The character models' `Vocabulary` has no such tokens and holds single characters only; a
/// token here may be a word.) An unknown token is refused by name and position rather than mapped
/// to `<unk>`: a model asked about a character it never saw says so.
public struct TokenVocabulary: Codable, Equatable, Sendable {
    public static let padding = 0, start = 1, end = 2
    static let specials = ["<pad>", "<s>", "</s>"]

    /// The tokens in id order: the three special ones, then the data's sorted by their Unicode scalars.
    public let tokens: [String]
    private let ids: [String: Int]

    /// The vocabulary of every token in `sequences`.
    public init(sequences: [[String]]) {
        let data = Set(sequences.joined()).subtracting(Self.specials).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        self.init(uncheckedTokens: Self.specials + data)
    }

    private init(uncheckedTokens tokens: [String]) {
        self.tokens = tokens
        ids = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })
    }

    public var count: Int { tokens.count }

    /// The ids of `sequence`.
    /// - Parameter place: where the sequence came from, for the error (`"line 3"`, `"the input"`).
    /// - Throws: `RNNKitError.invalidValue` naming the first unknown token, its code points and position.
    public func encode(_ sequence: [String], place: String, argument: String = "text") throws(RNNKitError) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(sequence.count)
        for (position, token) in sequence.enumerated() {
            guard let id = ids[token], id > Self.end else {
                let codes = token.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
                throw .invalidValue(argument: argument, expected: "tokens the model was trained on",
                                    found: "'\(token)' (\(codes)) at token \(position + 1) of \(place)",
                                    hint: "The model knows \(count - 3) tokens; remove or replace that one, or train with data that has it.")
            }
            out.append(id)
        }
        return out
    }

    /// The tokens of `ids` up to the first end token, without padding or start tokens.
    public func decode(_ ids: [Int]) -> [String] {
        var out: [String] = []
        for id in ids {
            if id == Self.end { break }
            if id > Self.end && id < count { out.append(tokens[id]) }
        }
        return out
    }

    public init(from decoder: any Decoder) throws {
        let tokens = try decoder.singleValueContainer().decode([String].self)
        guard Array(tokens.prefix(3)) == Self.specials, Set(tokens).count == tokens.count else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a token vocabulary starts with <pad>, <s>, </s> and has no token twice"))
        }
        self.init(uncheckedTokens: tokens)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(tokens)
    }

    public static func == (a: TokenVocabulary, b: TokenVocabulary) -> Bool { a.tokens == b.tokens }
}
