//! The spatial functions over GeoJSON: `ST_DISTANCE` between two `Point`s, in metres along
//! the WGS-84 ellipsoid (the service's default reference system). Other geometries, and
//! anything that is not GeoJSON, make the result undefined.

use serde_json::Value;

/// WGS-84: the semi-major axis in metres and the flattening.
const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;

/// `ST_DISTANCE(a, b)`: the geodesic distance in metres between two GeoJSON points.
pub(crate) fn distance(a: &Value, b: &Value) -> Option<f64> {
    let (lon1, lat1) = point(a)?;
    let (lon2, lat2) = point(b)?;
    Some(vincenty(lat1, lon1, lat2, lon2).unwrap_or_else(|| haversine(lat1, lon1, lat2, lon2)))
}

/// A GeoJSON `Point`'s (longitude, latitude) in degrees, both in range.
fn point(value: &Value) -> Option<(f64, f64)> {
    if value.get("type")?.as_str()? != "Point" {
        return None;
    }
    let coordinates = value.get("coordinates")?.as_array()?;
    let lon = coordinates.first()?.as_f64()?;
    let lat = coordinates.get(1)?.as_f64()?;
    ((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)).then_some((lon, lat))
}

/// Vincenty's inverse formula; `None` where it does not converge (nearly antipodal points).
fn vincenty(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> Option<f64> {
    let b = A * (1.0 - F);
    let l = (lon2 - lon1).to_radians();
    let u1 = ((1.0 - F) * lat1.to_radians().tan()).atan();
    let u2 = ((1.0 - F) * lat2.to_radians().tan()).atan();
    let (sin_u1, cos_u1) = u1.sin_cos();
    let (sin_u2, cos_u2) = u2.sin_cos();
    let mut lambda = l;
    for _ in 0..200 {
        let (sin_l, cos_l) = lambda.sin_cos();
        let sin_sigma =
            ((cos_u2 * sin_l).powi(2) + (cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_l).powi(2)).sqrt();
        if sin_sigma == 0.0 {
            return Some(0.0);
        }
        let cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_l;
        let sigma = sin_sigma.atan2(cos_sigma);
        let sin_alpha = cos_u1 * cos_u2 * sin_l / sin_sigma;
        let cos2_alpha = 1.0 - sin_alpha * sin_alpha;
        // On the equator both points' cos2_alpha is 0: the term vanishes.
        let cos_2sm = if cos2_alpha == 0.0 {
            0.0
        } else {
            cos_sigma - 2.0 * sin_u1 * sin_u2 / cos2_alpha
        };
        let c = F / 16.0 * cos2_alpha * (4.0 + F * (4.0 - 3.0 * cos2_alpha));
        let previous = lambda;
        lambda = l
            + (1.0 - c)
                * F
                * sin_alpha
                * (sigma
                    + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1.0 + 2.0 * cos_2sm * cos_2sm)));
        if (lambda - previous).abs() < 1e-12 {
            let u_sq = cos2_alpha * (A * A - b * b) / (b * b);
            let big_a =
                1.0 + u_sq / 16384.0 * (4096.0 + u_sq * (-768.0 + u_sq * (320.0 - 175.0 * u_sq)));
            let big_b = u_sq / 1024.0 * (256.0 + u_sq * (-128.0 + u_sq * (74.0 - 47.0 * u_sq)));
            let delta_sigma = big_b
                * sin_sigma
                * (cos_2sm
                    + big_b / 4.0
                        * (cos_sigma * (-1.0 + 2.0 * cos_2sm * cos_2sm)
                            - big_b / 6.0
                                * cos_2sm
                                * (-3.0 + 4.0 * sin_sigma * sin_sigma)
                                * (-3.0 + 4.0 * cos_2sm * cos_2sm)));
            let s = b * big_a * (sigma - delta_sigma);
            return s.is_finite().then_some(s);
        }
    }
    None
}

/// The great-circle distance on the sphere of the ellipsoid's mean radius.
fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let radius = (2.0 * A + A * (1.0 - F)) / 3.0;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * radius * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::distance;

    #[test]
    fn st_distance_is_geodesic_metres_between_points() {
        let p = |lon: f64, lat: f64| json!({"type": "Point", "coordinates": [lon, lat]});
        // A tenth of a degree of longitude at 20°N: about 10.46 km on WGS-84.
        let d = distance(&p(20.0, 20.0), &p(20.1, 20.0)).unwrap();
        assert!((d - 10_462.0).abs() < 5.0, "{d}");
        // One degree of latitude at the equator: 110.574 km.
        let d = distance(&p(0.0, 0.0), &p(0.0, 1.0)).unwrap();
        assert!((d - 110_574.4).abs() < 1.0, "{d}");
        assert_eq!(distance(&p(5.0, 5.0), &p(5.0, 5.0)), Some(0.0));
        // Nearly antipodal: still a distance (half the circumference, about 20,000 km).
        let d = distance(&p(0.0, 0.0), &p(179.9, 0.1)).unwrap();
        assert!((19_900_000.0..20_050_000.0).contains(&d), "{d}");
        assert_eq!(distance(&p(0.0, 0.0), &json!({"type": "Polygon"})), None);
        assert_eq!(distance(&json!([1, 2]), &p(0.0, 0.0)), None);
    }
}
