//! The merged route table (`gateway::routes`: every module crate's rows and
//! the server's own) and the API description agree: every
//! route served is documented under the same method and path, every
//! documented operation is served, and who may call each one is stated
//! once, in the table, and shown in the description (bearer security on
//! exactly the operator routes, each with at least one role).

use std::collections::BTreeSet;

use gateway::routes::{Access, routes};
use utoipa::OpenApi;

#[test]
fn every_route_is_documented_with_its_access_and_every_documented_operation_is_served() {
    let doc = serde_json::to_value(gateway::openapi::ApiDoc::openapi()).unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    let routes = routes();
    let mut served = BTreeSet::new();
    for route in &routes {
        let method = route.method.as_str().to_ascii_lowercase();
        assert!(
            served.insert((route.path.clone(), method.clone())),
            "{} {} is in the table twice",
            route.method,
            route.path
        );
        let operation = &doc["paths"][route.path.as_str()][&method];
        assert!(
            operation.is_object(),
            "{} {} is served but not documented",
            route.method,
            route.path
        );
        assert!(
            operation["tags"].as_array().is_some_and(|tags| !tags.is_empty()),
            "{} {} has no tag",
            route.method,
            route.path
        );
        let bearer = operation["security"]
            .as_array()
            .is_some_and(|schemes| schemes.iter().any(|scheme| scheme.get("bearer").is_some()));
        match route.access {
            Access::Operator(roles) => {
                assert!(!roles.is_empty(), "{} {} names no role", route.method, route.path);
                assert!(
                    bearer,
                    "{} {} needs a bearer token but does not say so",
                    route.method, route.path
                );
            }
            Access::Public | Access::Aggregator => {
                assert!(
                    !bearer,
                    "{} {} documents a bearer token it does not check",
                    route.method, route.path
                );
            }
        }
    }
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                assert!(
                    served.contains(&(path.clone(), method.clone())),
                    "{method} {path} is documented but not served"
                );
            }
        }
    }
    assert!(routes.len() >= 26, "{}", routes.len());
}
