//! Test fixtures shared by the store's unit tests and the HTTP and crash
//! tests: a small valid audio file.

/// A RIFF/WAVE file (PCM, mono, 8 kHz) with `samples` bytes of samples.
pub fn wav(samples: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(44 + samples);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + samples as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(samples as u32).to_le_bytes());
    b.extend((0..samples).map(|i| (i % 251) as u8));
    b
}
