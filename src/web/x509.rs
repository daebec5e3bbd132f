//! The expiry (`notAfter`) of a DER-encoded X.509 certificate: the served
//! certificate's expiry is a metric, and rustls does not expose it. Read with
//! the `x509-parser` crate; anything that is not a certificate gives `None`.

/// `notAfter` of the certificate, in seconds since the Unix epoch.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_after: (i32, u8, u8)) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_utc_and_generalized_times() {
        // Before 2050 the certificate says UTCTime, from 2050 GeneralizedTime.
        assert_eq!(not_after(&cert((2021, 1, 1))), Some(1_609_459_200));
        assert_eq!(not_after(&cert((2024, 2, 29))), Some(1_709_164_800));
        assert_eq!(not_after(&cert((4096, 1, 1))), Some(67_090_118_400));
    }

    #[test]
    fn never_panics_on_truncated_or_altered_input() {
        let der = cert((2030, 6, 15));
        for len in 0..der.len() {
            let _ = not_after(&der[..len]);
        }
        for i in 0..der.len() {
            let mut altered = der.clone();
            altered[i] ^= 0xff;
            let _ = not_after(&altered);
        }
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
