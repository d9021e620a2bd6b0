module.exports = require('../../jest.preset').preset();
