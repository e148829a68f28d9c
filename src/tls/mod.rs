pub mod identity;
pub mod inspect;
