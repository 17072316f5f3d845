//! Screenshots: QEMU writes binary PPM (P6); this reads it and writes PNG.

use crate::Error;

/// An RGB image, 8 bits per channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, rows top to bottom.
    pub pixels: Vec<u8>,
}

/// The format of a screenshot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImageFormat {
    /// Portable Network Graphics.
    Png,
    /// Binary portable pixmap (P6), as QEMU writes it.
    Ppm,
}

impl ImageFormat {
    /// The format a file name asks for: PPM for `.ppm` and `.pnm`, else
    /// PNG.
    pub fn from_path(path: &std::path::Path) -> ImageFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("ppm" | "pnm") => ImageFormat::Ppm,
            _ => ImageFormat::Png,
        }
    }
}

impl Rgb {
    /// Reads a binary PPM (P6) with a maximum value of 255 or less.
    ///
    /// # Errors
    ///
    /// [`Error::Image`] if `data` is not one.
    pub fn from_ppm(data: &[u8]) -> Result<Rgb, Error> {
        let bad = |what: &str| Error::Image(format!("not a binary PPM: {what}"));
        if !data.starts_with(b"P6") {
            return Err(bad("no P6 magic"));
        }
        let mut pos = 2;
        let mut fields = [0u32; 3];
        for field in &mut fields {
            // Whitespace and comments separate the header fields.
            loop {
                match data.get(pos) {
                    Some(b) if b.is_ascii_whitespace() => pos += 1,
                    Some(b'#') => {
                        while data.get(pos).is_some_and(|&b| b != b'\n') {
                            pos += 1;
                        }
                    }
                    _ => break,
                }
            }
            let start = pos;
            while data.get(pos).is_some_and(u8::is_ascii_digit) {
                pos += 1;
            }
            *field = std::str::from_utf8(&data[start..pos])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("bad header"))?;
        }
        if !data.get(pos).is_some_and(u8::is_ascii_whitespace) {
            return Err(bad("bad header"));
        }
        pos += 1;
        let [width, height, max] = fields;
        if max == 0 || max > 255 {
            return Err(bad("only 8-bit images are supported"));
        }
        let len = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(3))
            .ok_or_else(|| bad("image too large"))?;
        let pixels = data
            .get(pos..pos + len)
            .ok_or_else(|| bad("truncated pixel data"))?;
        let pixels = if max == 255 {
            pixels.to_vec()
        } else {
            pixels
                .iter()
                .map(|&p| ((u32::from(p) * 255 + max / 2) / max) as u8)
                .collect()
        };
        Ok(Rgb {
            width,
            height,
            pixels,
        })
    }

    /// Encodes as a binary PPM.
    pub fn to_ppm(&self) -> Vec<u8> {
        let mut out = format!("P6\n{} {}\n255\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.pixels);
        out
    }

    /// Encodes as PNG.
    ///
    /// # Errors
    ///
    /// [`Error::Image`] if the encoder refuses the image.
    pub fn to_png(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let err = |e: png::EncodingError| Error::Image(format!("cannot encode PNG: {e}"));
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(&self.pixels).map_err(err)?;
        w.finish().map_err(err)?;
        Ok(out)
    }

    /// Encodes in `format`.
    ///
    /// # Errors
    ///
    /// As for [`Rgb::to_png`].
    pub fn encode(&self, format: ImageFormat) -> Result<Vec<u8>, Error> {
        match format {
            ImageFormat::Png => self.to_png(),
            ImageFormat::Ppm => Ok(self.to_ppm()),
        }
    }

    /// How many distinct colours the image has, counting up to `limit`.
    pub fn colours(&self, limit: usize) -> usize {
        let mut seen = std::collections::HashSet::new();
        for px in self.pixels.chunks_exact(3) {
            seen.insert([px[0], px[1], px[2]]);
            if seen.len() >= limit {
                break;
            }
        }
        seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_round_trip() {
        let img = Rgb {
            width: 2,
            height: 1,
            pixels: vec![1, 2, 3, 250, 251, 252],
        };
        assert_eq!(Rgb::from_ppm(&img.to_ppm()).unwrap(), img);
        let with_comment = b"P6\n# made by hand\n2 1\n255\n\x01\x02\x03\xfa\xfb\xfc";
        assert_eq!(Rgb::from_ppm(with_comment).unwrap(), img);
        let shallow = Rgb::from_ppm(b"P6 1 1 15 \x0f\x00\x07").unwrap();
        assert_eq!(shallow.pixels, [255, 0, 119]);
        assert_eq!(img.colours(10), 2);
    }

    #[test]
    fn ppm_errors() {
        for (data, expect) in [
            (&b"P5\n1 1\n255\n\0"[..], "no P6 magic"),
            (b"P6\n1\n", "bad header"),
            (b"P6\n1 1\n255\n\0", "truncated pixel data"),
            (
                b"P6\n1 1\n65535\n\0\0\0\0\0\0",
                "only 8-bit images are supported",
            ),
        ] {
            assert_eq!(
                Rgb::from_ppm(data).unwrap_err().to_string(),
                format!("bad image from QEMU: not a binary PPM: {expect}")
            );
        }
    }

    #[test]
    fn png_signature() {
        let img = Rgb {
            width: 3,
            height: 2,
            pixels: vec![7; 18],
        };
        assert!(img.to_png().unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(ImageFormat::from_path("a.PPM".as_ref()), ImageFormat::Ppm);
        assert_eq!(ImageFormat::from_path("a.png".as_ref()), ImageFormat::Png);
        assert_eq!(ImageFormat::from_path("a".as_ref()), ImageFormat::Png);
    }
}
