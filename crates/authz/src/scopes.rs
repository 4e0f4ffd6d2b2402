//! Scopes: what a token lets its holder do. They are lab 4's permission
//! names, exact and case-sensitive.

/// Every scope the server knows, in the order tokens list them.
pub const ALL: [&str; 4] = ["User.Read", "Orders.Read", "Orders.Delete", "Orders.Refund"];

/// What a client gets when it asks for nothing in particular: enough to
/// read, nothing that changes anything.
const DEFAULT_REQUEST: &str = "User.Read Orders.Read";

/// The granted scope: what was asked for (or the default) that `allowed`
/// permits, space-separated. Unknown names are dropped, not errors; an empty
/// result is the caller's `invalid_scope`.
pub fn grant(requested: Option<&str>, allowed: &[&str]) -> String {
    let requested = requested
        .filter(|text| !text.trim().is_empty())
        .unwrap_or(DEFAULT_REQUEST);
    let asked: Vec<&str> = requested.split(' ').collect();
    ALL.iter()
        .filter(|scope| asked.contains(scope) && allowed.contains(scope))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_the_intersection_in_a_stable_order() {
        let jane = ["User.Read", "Orders.Read"];
        assert_eq!(grant(None, &jane), "User.Read Orders.Read");
        assert_eq!(
            grant(Some("Orders.Read Orders.Delete"), &jane),
            "Orders.Read"
        );
        assert_eq!(grant(Some("orders.read"), &jane), "");
        assert_eq!(grant(Some("Orders.Refund"), &ALL), "Orders.Refund");
    }
}
