/// One shard of `LRUCache`: a hash map from key to a slot in `nodes`, whose
/// slots form a doubly-linked recency list (head = most recent). Freed slots
/// are reused, so steady-state operation allocates nothing.
///
/// Not thread-safe by itself; `LRUCache` keeps each shard behind a lock.
@usableFromInline struct LRUShard<Key: Hashable, Value> {
    @usableFromInline struct Node {
        @usableFromInline var key: Key?
        @usableFromInline var value: Value?
        @usableFromInline var cost: Int
        @usableFromInline var previous: Int
        @usableFromInline var next: Int

        @inlinable init(key: Key?, value: Value?, cost: Int, previous: Int, next: Int) {
            self.key = key
            self.value = value
            self.cost = cost
            self.previous = previous
            self.next = next
        }
    }

    @inlinable static var none: Int { -1 }

    let capacity: Int
    @usableFromInline var index: [Key: Int] = [:]
    @usableFromInline var nodes: [Node] = []
    private var free: [Int] = []
    @usableFromInline var head = LRUShard.none
    @usableFromInline var tail = LRUShard.none
    private(set) var bytes = 0

    init(capacity: Int) { self.capacity = capacity }

    @inlinable mutating func get(_ key: Key) -> Value? {
        guard let slot = index[key] else { return nil }
        moveToFront(slot)
        return nodes[slot].value
    }

    /// Inserts or replaces; the caller has checked that `cost <= capacity`.
    mutating func put(_ key: Key, _ value: Value, cost: Int) -> LRUChange {
        var change = LRUChange()
        if let slot = index[key] {
            change.bytes += cost - nodes[slot].cost
            bytes += cost - nodes[slot].cost
            nodes[slot].value = value
            nodes[slot].cost = cost
            moveToFront(slot)
        } else {
            let slot = allocate(Node(key: key, value: value, cost: cost, previous: LRUShard.none, next: LRUShard.none))
            index[key] = slot
            linkAtFront(slot)
            bytes += cost
            change.entries += 1
            change.bytes += cost
        }
        while bytes > capacity, tail != LRUShard.none {
            let victim = tail
            let cost = nodes[victim].cost
            removeSlot(victim)
            change.entries -= 1
            change.bytes -= cost
            change.evictions += 1
        }
        return change
    }

    mutating func remove(_ key: Key) -> LRUChange {
        guard let slot = index[key] else { return LRUChange() }
        let cost = nodes[slot].cost
        removeSlot(slot)
        return LRUChange(entries: -1, bytes: -cost)
    }

    mutating func removeAll() -> LRUChange {
        let change = LRUChange(entries: -index.count, bytes: -bytes)
        index.removeAll()
        nodes.removeAll()
        free.removeAll()
        head = LRUShard.none
        tail = LRUShard.none
        bytes = 0
        return change
    }

    /// Keys from most to least recently used (tests and diagnostics).
    func keysByRecency() -> [Key] {
        var keys: [Key] = []
        var slot = head
        while slot != LRUShard.none {
            if let key = nodes[slot].key { keys.append(key) }
            slot = nodes[slot].next
        }
        return keys
    }

    private mutating func allocate(_ node: Node) -> Int {
        if let slot = free.popLast() {
            nodes[slot] = node
            return slot
        }
        nodes.append(node)
        return nodes.count - 1
    }

    private mutating func removeSlot(_ slot: Int) {
        unlink(slot)
        if let key = nodes[slot].key { index.removeValue(forKey: key) }
        bytes -= nodes[slot].cost
        nodes[slot] = Node(key: nil, value: nil, cost: 0, previous: LRUShard.none, next: LRUShard.none)
        free.append(slot)
    }

    @inlinable mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        linkAtFront(slot)
    }

    @inlinable mutating func linkAtFront(_ slot: Int) {
        nodes[slot].previous = LRUShard.none
        nodes[slot].next = head
        if head != LRUShard.none { nodes[head].previous = slot }
        head = slot
        if tail == LRUShard.none { tail = slot }
    }

    @inlinable mutating func unlink(_ slot: Int) {
        let previous = nodes[slot].previous
        let next = nodes[slot].next
        if previous != LRUShard.none { nodes[previous].next = next } else { head = next }
        if next != LRUShard.none { nodes[next].previous = previous } else { tail = previous }
        nodes[slot].previous = LRUShard.none
        nodes[slot].next = LRUShard.none
    }
}

/// How one operation changed a shard, for the metrics.
struct LRUChange {
    var entries = 0
    var bytes = 0
    var evictions = 0
}
